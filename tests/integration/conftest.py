"""The API tests' fixtures (tests/api/conftest.py), for the tests here that drive the API together with
another package's code (the checksum worker, the client): those run only in the whole suite, never in a
package's own tox environment, which installs that package alone."""

from api.conftest import api_context, auth, aws, client  # fixtures, found by name

__all__ = ["api_context", "auth", "aws", "client"]
