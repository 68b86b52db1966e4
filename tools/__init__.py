"""The checkout's tools (doctor.py for `make doctor`, recover.py and recovery/ for `make recover`), run as
scripts; a package so that tests and type checks name their modules `tools.<name>`."""
