"""Fixtures for the Terraform tests: the real `terraform` binary, providers from a filesystem mirror only.

Terraform never downloads here: a CLI configuration installs `registry.terraform.io/*/*` from the mirror
and forbids direct installation. The mirror is `UPLOAD_TF_PLUGIN_MIRROR` or a known path; without the
binary or the mirror the tests skip and say which is missing.

The fixtures (`terraform`, `moto_endpoint`, `lambda_zips`, `local_stage`, ...) live in
`support.terraform_stage`, a plugin of tests/conftest.py, so that tests/iam shares the one applied stage.
"""
