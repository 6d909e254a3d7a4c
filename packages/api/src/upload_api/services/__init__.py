"""Domain services of the API: plain arguments in, domain errors out, no HTTP."""
