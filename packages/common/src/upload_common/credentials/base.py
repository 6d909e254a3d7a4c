"""The `CredentialIssuer` interface: short-lived credentials that let a submitter write into one area."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class UploadCredentials:
    """Temporary AWS credentials scoped to one upload area."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime  # timezone-aware

    def to_json(self) -> dict[str, str]:
        """The seed's response body: STS's own key names, `Expiration` in ISO 8601 with its offset."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration.isoformat(),
        }


class CredentialIssuer(abc.ABC):
    """Issues credentials that allow putting objects under `<area>/` and listing that prefix, nothing else.

    Implementations raise only domain errors: `InvalidInputError` for an area id that is not a UUID,
    `CredentialsError` when the provider refuses or fails.
    """

    @abc.abstractmethod
    def issue(self, area_uuid: str) -> UploadCredentials:
        """Fresh credentials for the area."""
