# Shared by the one-command recipes (run_classifier_lcqmc.sh, run_classifier_clue.sh,
# run_cmrc2018.sh); sourced, not run. The caller sets PYTHON, ALBERT_TINY_DIR,
# ALBERT_TINY_URL and ALBERT_TINY_SHA256 before calling ensure_model.

die() { echo "error: $*" >&2; exit 1; }

# fetch URL DEST: download to DEST atomically (nothing half-written on failure).
fetch() {
  "$PYTHON" - "$1" "$2" <<'PY'
import os, shutil, sys
from urllib.request import urlopen
url, dest = sys.argv[1], sys.argv[2]
tmp = "%s.part-%d" % (dest, os.getpid())
try:
    with urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
    if os.path.getsize(tmp) == 0:
        raise IOError("empty download")
    os.rename(tmp, dest)
except Exception as e:  # any failure: clean up and report on one line
    if os.path.exists(tmp):
        os.remove(tmp)
    sys.stderr.write("cannot download %s: %s\n" % (url, str(e).splitlines()[0] if str(e) else type(e).__name__))
    sys.exit(1)
PY
}

# unpack ZIP DIR SUFFIXES [SHA256]: check the zip and unpack its files whose
# names end with one of SUFFIXES (comma separated) into DIR, flattening folders.
unpack() {
  "$PYTHON" - "$@" <<'PY'
import hashlib, os, shutil, sys, zipfile
archive, target, suffixes = sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(","))
sha256 = sys.argv[4] if len(sys.argv) > 4 else ""
if sha256:
    digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    if digest != sha256.lower():
        sys.exit("%s: sha256 %s, expected %s" % (archive, digest, sha256))
try:
    with zipfile.ZipFile(archive) as z:
        bad = z.testzip()
        if bad:
            sys.exit("%s: corrupt member %s" % (archive, bad))
        os.makedirs(target, exist_ok=True)
        for name in z.namelist():
            base = os.path.basename(name)
            if not base or base.startswith(".") or "__MACOSX" in name:
                continue
            if suffixes != ("",) and not base.endswith(suffixes):
                continue
            with z.open(name) as src, open(os.path.join(target, base), "wb") as dst:
                shutil.copyfileobj(src, dst)
except zipfile.BadZipFile as e:
    sys.exit("%s: not a zip file (%s)" % (archive, e))
PY
}

model_ready() {
  [ -f "$ALBERT_TINY_DIR/vocab.txt" ] && ls "$ALBERT_TINY_DIR"/albert_config*.json >/dev/null 2>&1 &&
    ls "$ALBERT_TINY_DIR"/*.ckpt*.index >/dev/null 2>&1
}

ensure_model() {
  if model_ready; then echo "model: $ALBERT_TINY_DIR"; return; fi
  echo "model: downloading $ALBERT_TINY_URL"
  mkdir -p "$ALBERT_TINY_DIR"
  local zip="$ALBERT_TINY_DIR/.download.zip"
  fetch "$ALBERT_TINY_URL" "$zip" ||
    die "albert_tiny is not in $ALBERT_TINY_DIR and could not be downloaded. Offline: unpack" \
        "albert_tiny_489k.zip (albert_model.ckpt.*, albert_config_tiny.json, vocab.txt) into" \
        "$ALBERT_TINY_DIR, or set ALBERT_TINY_DIR to where it is"
  if ! unpack "$zip" "$ALBERT_TINY_DIR" "" "$ALBERT_TINY_SHA256"; then
    rm -f "$zip"; die "the downloaded model from $ALBERT_TINY_URL is unusable"
  fi
  rm -f "$zip"
  model_ready || die "$ALBERT_TINY_DIR: the model zip lacked vocab.txt, albert_config*.json or a checkpoint"
}
