"""golden: bit-exact golden vectors of the DRTP engine (generate.py writes, format.py defines and checks, reader.py reads)."""
