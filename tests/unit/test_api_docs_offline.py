import pytest
from django.test import Client

from tests import factories as f


@pytest.mark.django_db
def test_interactive_docs_load_nothing_from_other_hosts(client: Client) -> None:
    client.force_login(f.create_user())
    page = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in page
    assert "cdn." not in page and "https://" not in page
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200
