"""Names inside JSON bodies (`files_info`, `validate`): the exact name first, then its percent-decoded
form, as the seed's `hca` client percent-encodes them (`urllib.parse.quote`)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from upload_api.context import ApiContext
from upload_common.models import FileVersion, ValidationFile

IMAGE = "dcp-upload/validator-fastq"
SPACED, ENCODED = "lib upload.txt", "lib%20upload.txt"


@pytest.fixture
def area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area_uuid}", headers=auth).status_code == 201
    return area_uuid


def store(client: TestClient, auth: dict[str, str], area: str, name: str, data: bytes) -> None:
    response = client.put(
        f"/v1/area/{area}/{quote(name, safe='')}",
        headers={**auth, "Content-Type": "text/plain; dcp-type=data"},
        content=data,
    )
    assert response.status_code == 201, response.text


def files_info(client: TestClient, area: str, names: list[str]) -> list[dict[str, object]]:
    response = client.put(f"/v1/area/{area}/files_info", json=names)
    assert response.status_code == 200, response.text
    infos: list[dict[str, object]] = response.json()
    return infos


def validated_names(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, area: str, names: list[str]
) -> list[str]:
    response = client.put(
        f"/v1/area/{area}/validate", json={"validator_image": IMAGE, "files": names}, headers=auth
    )
    assert response.status_code == 200, response.text
    with api_context.sessions() as session:
        return list(
            session.scalars(
                select(FileVersion.name)
                .join(ValidationFile, ValidationFile.file_id == FileVersion.id)
                .where(ValidationFile.validation_id == uuid.UUID(response.json()["validation_id"]))
                .order_by(ValidationFile.position)
            )
        )


def test_the_hca_clients_encoded_names_find_the_files(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, area: str
) -> None:
    store(client, auth, area, SPACED, b"spaced")
    store(client, auth, area, "R1.fastq", b"plain")

    infos = files_info(client, area, [quote(SPACED), quote("R1.fastq")])
    assert [(info["name"], info["size"]) for info in infos] == [(SPACED, 6), ("R1.fastq", 5)]
    assert validated_names(client, auth, api_context, area, [ENCODED, "R1.fastq"]) == [SPACED, "R1.fastq"]


def test_an_exact_name_wins_over_the_decoded_one(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, area: str
) -> None:
    store(client, auth, area, SPACED, b"spaced")
    store(client, auth, area, ENCODED, b"literally %20")  # its name holds "%20" itself

    [info] = files_info(client, area, [ENCODED])
    assert (info["name"], info["size"]) == (ENCODED, 13)
    assert validated_names(client, auth, api_context, area, [ENCODED]) == [ENCODED]
    [info] = files_info(client, area, [SPACED])
    assert info["name"] == SPACED


@pytest.mark.parametrize("route", ["files_info", "validate"])
def test_a_name_missing_in_both_forms_is_404_naming_it(
    client: TestClient, auth: dict[str, str], area: str, route: str
) -> None:
    body: object = [ENCODED] if route == "files_info" else {"validator_image": IMAGE, "files": [ENCODED]}
    response = client.put(f"/v1/area/{area}/{route}", json=body, headers=auth)
    assert response.status_code == 404
    assert ENCODED in problem_of(response)["detail"]
