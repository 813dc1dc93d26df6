"""hwsim: the bit-accurate golden model of the on-chip DRTP learning engine (formats, config, model, data)."""
