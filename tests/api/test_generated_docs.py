"""The committed documents generated from the code are current (`tests.support.generated_docs`):
a change of the API or of a setting that was not exported fails here."""

from __future__ import annotations

from tests.support.generated_docs import (
    CONFIGURATION,
    OPENAPI,
    render_configuration,
    render_openapi,
    render_settings_table,
)


def test_the_committed_openapi_document_is_current() -> None:
    assert OPENAPI.read_text() == render_openapi(), "run: scripts/export-docs"


def test_the_configuration_reference_lists_every_setting_as_the_code_describes_it() -> None:
    current = CONFIGURATION.read_text()

    assert current == render_configuration(current), "run: scripts/export-docs"
    assert render_settings_table() in current
