"""Blue's access levels, role by role, as its pages list them: importTodos needs MEMBER or
above, cancelTodoImport ADMIN or OWNER, exportCSVTemplate any access level; a user of the
account who is no member of the workspace gets PROJECT_NOT_FOUND from all three."""

from __future__ import annotations

from typing import Any

from tests.blue import start_import
from tests.conftest import Api

ROLES = ("OWNER", "ADMIN", "MEMBER", "CLIENT", "COMMENT_ONLY", "VIEW_ONLY")
NOT_A_MEMBER = "tok-outsider"
FIXTURE: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "users": [
        *({"id": 50 + n, "account_id": 1, "name": f"{role.title()} User",
           "email": f"{role.lower()}@acme.example.com", "token": f"tok-{role.lower()}"}
          for n, role in enumerate(ROLES)),
        {"id": 59, "account_id": 1, "name": "Out Sider", "email": "out@acme.example.com",
         "token": NOT_A_MEMBER},
    ],
    "boards": [{
        "id": 750, "account_id": 1, "name": "Access", "slug": "access",
        "members": [{"user_id": 50 + n, "role": role} for n, role in enumerate(ROLES)],
        "groups": [{"id": "topics", "title": "Topics"}],
    }],
}  # fmt: skip
TEMPLATE = 'mutation { exportCSVTemplate(input: {projectId: "access"}) }'
CANCEL = 'mutation { cancelTodoImport(projectId: "access") }'


def code_of(body: dict[str, Any]) -> str | None:
    return body["errors"][0]["extensions"]["code"] if "errors" in body else None


async def outcomes(api: Api, token: str) -> tuple[str | None, str | None, str | None]:
    """The error codes (None: allowed) of importTodos, cancelTodoImport and exportCSVTemplate.
    The import names an s3Key that cannot exist: past the access check it is BAD_USER_INPUT,
    and no import starts (so every cancel finds none to cancel and answers false)."""
    imported = (await start_import(api, "access", "../x", ["Title"], token=token)).json()
    cancelled = (await api.post(CANCEL, token=token)).json()
    template = (await api.post(TEMPLATE, token=token)).json()
    return code_of(imported), code_of(cancelled), code_of(template)


async def test_each_access_level_gets_what_blue_documents(api: Api) -> None:
    await api.load_fixture(FIXTURE)
    found = {role: await outcomes(api, f"tok-{role.lower()}") for role in ROLES}
    found["not a member"] = await outcomes(api, NOT_A_MEMBER)
    assert found == {
        "OWNER": ("BAD_USER_INPUT", None, None),
        "ADMIN": ("BAD_USER_INPUT", None, None),
        "MEMBER": ("BAD_USER_INPUT", "FORBIDDEN", None),
        "CLIENT": ("FORBIDDEN", "FORBIDDEN", None),
        "COMMENT_ONLY": ("FORBIDDEN", "FORBIDDEN", None),
        "VIEW_ONLY": ("FORBIDDEN", "FORBIDDEN", None),
        "not a member": ("PROJECT_NOT_FOUND",) * 3,
    }
