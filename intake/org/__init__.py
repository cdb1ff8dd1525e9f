"""The organisation tree: city (optional) → district → street → community, and departments by level.

:mod:`intake.org.tree` reads and changes it (from config.toml at start-up, from the console);
:mod:`intake.org.importer` reads an Excel sheet of it (``jianfu org import``). Every change is a
version in ``org_imports``.
"""

from intake.org.tree import (
    ADOPT_DISTRICT,
    ADOPT_STREET,
    STREET_OFFICE,
    CommunityRow,
    OrgChanges,
    OrgRowsRefused,
    apply_org_rows,
    get_district_id,
    get_street_id,
    list_org_tree,
    list_org_versions,
    sync_org_from_config,
)

__all__ = [
    "ADOPT_DISTRICT",
    "ADOPT_STREET",
    "STREET_OFFICE",
    "CommunityRow",
    "OrgChanges",
    "OrgRowsRefused",
    "apply_org_rows",
    "get_district_id",
    "get_street_id",
    "list_org_tree",
    "list_org_versions",
    "sync_org_from_config",
]
