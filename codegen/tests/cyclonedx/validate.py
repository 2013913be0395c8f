"""Validates CycloneDX JSON files against the CycloneDX schema, with CycloneDX's own
validator (PyPI cyclonedx-python-lib, strict: unknown fields are errors too).

    python validate.py VERSION FILE...    e.g. 1.6 sbom.json

Prints `valid FILE` or `invalid FILE: <the first error>` per file; exits 0 when all are valid.
Installed into .venv by .ci/tools.sh; codegen/tests/sbom.rs runs it.
"""

import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main() -> int:
    version = SchemaVersion.from_version(sys.argv[1])
    validator = JsonStrictValidator(version)
    ok = True
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as file:
            error = validator.validate_str(file.read())
        if error is None:
            print(f"valid {path}")
        else:
            ok = False
            print(f"invalid {path}: {error}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
