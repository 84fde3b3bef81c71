"""report_accuracy.py — the accuracy figures of bench/report.py: the accuracy sections of the
result files (FP16 vs FP32, student vs teacher, bench/bench.py's shape), the shipped model's
evaluation (`mlff eval` JSON), the short cell of the configurations table and the section."""
from report_fmt import f_gen, is_num, md_table, numeric

METRICS = ((("energy", "mae"), "E MAE {:.3g} meV/atom"),
           (("force", "rmse"), "F RMSE {:.3g} meV/Å"),
           (("force", "mae"), "F MAE {:.3g} meV/Å"))


def metric(d, *words):
    """The first numeric field of d whose name holds every word (case-insensitive)."""
    for k, v in d.items():
        lk = k.lower()
        if all(w in lk for w in words) and is_num(v):
            return k, v
    return None


def acc_text(d, which=METRICS):
    parts = []
    for words, fmt in which:
        m = metric(d, *words)
        if m:
            parts.append(fmt.format(m[1]))
    return ", ".join(parts)


def acc_entries(acc):
    """{comparison name: metrics dict} of an accuracy section."""
    out = {}
    if not isinstance(acc, dict):
        return out
    if numeric(acc):
        out["accuracy"] = numeric(acc)
    for k, v in acc.items():
        if isinstance(v, dict):
            if numeric(v):
                out[k] = numeric(v)
            for kk, vv in v.items():
                if isinstance(vv, dict) and numeric(vv):
                    out[f"{k}.{kk}"] = numeric(vv)
    return out


def teacher_entry(acc, device="gpu", precision="fp32"):
    """(name, metrics) of the student-vs-teacher comparison of a device and precision (the
    first of any where that one is missing), or None."""
    ts = [(k, v) for k, v in acc_entries(acc).items()
          if "teacher" in k.lower() or "student" in k.lower()]
    own = f"{device}_{precision}".lower()
    ts.sort(key=lambda kv: not kv[0].lower().endswith(own))
    return ts[0] if ts else None


def fp16_entry(acc):
    """(name, metrics) of the FP16-vs-FP32 comparison, or None."""
    fs = [(k, v) for k, v in acc_entries(acc).items() if "fp16" in k.lower()]
    fs.sort(key=lambda kv: "fp16_vs_fp32" not in kv[0].lower())
    return fs[0] if fs else None


SHORT_TEACHER = ((("force", "rmse"), "{:.3g}"),)   # the configurations table's short cell
SHORT_FP16 = ((("force", "rmse"), "FP16 − FP32 {:.3g}"),)


class Accuracy:
    def __init__(self, model_eval):
        self.eval = model_eval  # Src or None

    def overall(self):
        """The shipped model's evaluation's overall section, or None."""
        if self.eval is None or self.eval.error:
            return None
        ov = self.eval.data.get("overall")
        return ov if isinstance(ov, dict) else None

    def model_eval_text(self, row, notes):
        ov = self.overall()
        if ov is None or "benzene-gfn2" not in row.model:
            return ""
        t = acc_text(ov, SHORT_TEACHER)
        if t:
            notes.add(f"{self.eval.show}, overall.force_rmse_meV_per_A (student vs teacher on "
                      f"{ov.get('n_structures', '?')} held-out structures)")
            return t + " (held out)"
        return ""

    def cell(self, row, notes):
        """The accuracy cell of a row, force RMSE in meV/Å: its own device's against the teacher
        (bench.py's student_vs_teacher.{cpu_fp64,gpu_fp32,gpu_fp16}) and, for FP16, FP16
        against FP32."""
        parts = []
        teacher = teacher_entry(row.accuracy, row.device, row.precision or "fp64")
        if teacher and acc_text(teacher[1], SHORT_TEACHER):
            parts.append(acc_text(teacher[1], SHORT_TEACHER))
            notes.add(f"{row.src.show}, accuracy.{teacher[0]}.force_rmse*")
        else:
            t = self.model_eval_text(row, notes)
            if t:
                parts.append(t)
            elif "random" in row.model.lower():
                parts.append("random weights: timing only")
        if row.precision == "FP16":
            f16 = fp16_entry(row.accuracy)
            if f16 and acc_text(f16[1], SHORT_FP16):
                parts.append(acc_text(f16[1], SHORT_FP16))
                notes.add(f"{row.src.show}, accuracy.{f16[0]}.force_rmse*")
            else:
                parts.append("FP16 − FP32 not in the JSON")
        return "; ".join(parts) if parts else "not in the JSON"

    def section(self, used, machines):
        """The accuracy sections of the files in use and the shipped model's evaluation."""
        L = []
        for s in [s for s in used if isinstance(s.data.get("accuracy"), dict)]:
            ents = acc_entries(s.data["accuracy"])
            cols = []
            for e in ents.values():
                cols += [k for k in e if k not in cols]
            L.append(f"**{s.name}** ({machines.own(s)})\n")
            L.append(md_table(["comparison"] + cols,
                              [[k] + [f_gen(e.get(c)) for c in cols] for k, e in ents.items()]))
            L.append(f"\nfrom {s.show}, accuracy.*\n")
        ov = self.overall()
        if ov is not None:
            keys = [k for k in ov if is_num(ov[k])]
            L.append("Shipped model against its teacher "
                     f"({self.eval.data.get('dataset_teacher', '?')}), held-out structures:\n")
            L.append(md_table(["field", "value"], [[k, f_gen(ov[k])] for k in keys]))
            L.append(f"\nfrom {self.eval.show}, overall.*\n")
        return L or ["No accuracy figures in the JSON.\n"]
