"""The paper's baselines: Dreamer w/ DR, Dreamer w/o DR, Dreamer State Recon, Asymmetric SAC."""
