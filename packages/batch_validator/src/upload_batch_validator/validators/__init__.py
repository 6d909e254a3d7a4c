"""Built-in validators: each takes file paths, prints one line per file and exits 0 when all are valid.

A line is `valid`, or `invalid: <file>: <reason, with the line or record number>`. Exit status 1 when a
file is invalid (or cannot be read), 2 for a usage error.
"""
