"""water_lattice.py — a test box of water-like molecules for the teacher_* tests (no teacher
needed): shared by test_teacher_locality.py and test_teacher_periodic.py."""
import numpy as np


def lattice(n, a=3.1, seed=3, shift=(0.0, 0.5, 0.5)):
    """n x n x n O-H-H molecules a apart (O-H 0.958 Å), random orientations, wrapped into the
    cubic box n a wide. The O atoms sit at (i, j, k) + shift lattice points: with a 0 in shift
    some lie on a face and their H atoms wrap to the far one (molecules split across the box).
    Returns elements, positions (3 n^3 x 3) and the box lengths."""
    rng = np.random.default_rng(seed)
    el, x = [], []
    for i in range(n):
        for j in range(n):
            for k in range(n):
                c = (np.array([i, j, k]) + shift) * a + rng.normal(0, 0.05, 3)
                q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
                h = np.array([[0.757, 0.586, 0], [-0.757, 0.586, 0]]) @ q.T
                el += ["O", "H", "H"]
                x += [c, c + h[0], c + h[1]]
    return el, np.array(x) % (n * a), np.array([n * a] * 3)
