"""Sample files for the metadata tests, built at test time (no binaries in git)."""
