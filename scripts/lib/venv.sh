# Shared by scripts/serve and scripts/test: create .venv and install the project into it.
ensure_system_packages() {
  # pyzbar needs the zbar shared library; PDF tests need poppler's tools.
  local missing=()
  ldconfig -p 2>/dev/null | grep -q libzbar.so.0 || missing+=(libzbar0)
  if [ "${1:-}" = "dev" ]; then
    command -v pdftoppm >/dev/null || missing+=(poppler-utils)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      echo "Installing Debian packages: ${missing[*]}" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "Please install these Debian packages first: ${missing[*]}" >&2
      exit 1
    fi
  fi
}

ensure_venv() {
  local extras="$1"
  ensure_system_packages "$extras"
  local stamp=".venv/.installed-${extras:-base}"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    if [ -n "$extras" ]; then
      .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
    else
      .venv/bin/python -m pip install -q -c constraints.txt -e .
    fi
    touch "$stamp"
  fi
}
