# label_plan.sh — sourced by test_label_resume.sh and test_label_kills.sh with $mol set: the
# tiny `mlff label` plan with every kind of structure (24 structures, chunks of 2) they share.
plan="--molecule $mol --temperatures 300 --md-structures 6 --md-interval 5 --md-equilibration 10
      --normal-modes 3 --dimers 3 --far-dimers 0 --contact-dimers 2 --trimers 0 --tetramers 0
      --droplets 2 --droplet-molecules 3 --liquids 2 --liquid-molecules 3
      --relaxed 1 --relaxed-molecules 2-3 --relax-steps 6 --chunk 2 --seed 5"
