# Shared by run.sh and test.sh: a virtualenv in .venv with fieldapp installed (editable), reinstalled
# only when setup.cfg changes or other extras are asked for.
ensure_venv() {
    extras="$1"
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv; then
            echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt install python3-venv" >&2
            exit 1
        fi
    fi
    stamp=".venv/.fieldapp-installed"
    want="$(cat setup.cfg pyproject.toml | cksum)$extras"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
        echo "$want" > "$stamp"
    fi
}
