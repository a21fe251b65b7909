"""The string formats the OpenAPI documents name (`format: user-id`, `format: task-name`), as
data generators, so that what schemathesis generates as valid is what the APIs accept.

JSON Schema cannot say "no control characters, Unicode noncharacters or surrounding white
space" portably (regular expressions differ between engines on code points above U+FFFF), so
the documents say it in their descriptions and name a format; these generators follow the
functions' own checks (todo_api::model::validate_task_name, inference's user id check).
"""

import schemathesis
from hypothesis import strategies as st


def is_noncharacter(c: str) -> bool:
    code = ord(c)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


# Any character but control characters (Cc) and surrogates (Cs, which JSON cannot carry alone).
printable = st.characters(exclude_categories=("Cc", "Cs"))

user_ids = st.text(printable.filter(lambda c: not is_noncharacter(c)), min_size=1, max_size=128).filter(
    lambda text: text.strip() == text
)
task_names = st.text(printable, min_size=1, max_size=500).filter(lambda text: text.strip() != "")

schemathesis.openapi.format("user-id", user_ids)
schemathesis.openapi.format("task-name", task_names)
