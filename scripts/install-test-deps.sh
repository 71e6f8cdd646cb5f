#!/usr/bin/env bash
# Test dependencies from the npm registry, cached OUTSIDE the repository.
#
# Cache: $CP_NODE_CACHE (default $HOME/.cache/campaign-publisher); packages land in
# "$CP_NODE_CACHE/node_modules". Tests that need a package skip (saying to run this
# script) when it is not there. Safe to run again: what is installed is kept.
set -euo pipefail

# Debian's Chromium for the web app's browser tests (tests/web/test_browser.py): the
# distribution's package, never a browser downloaded by Playwright.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: apt-get install chromium" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "install-test-deps: /usr/bin/chromium missing: apt-get install chromium" >&2
    fi
fi

CACHE="${CP_NODE_CACHE:-$HOME/.cache/campaign-publisher}"
mkdir -p "$CACHE"
cd "$CACHE"
[ -f package.json ] || echo '{"private": true}' > package.json

if ! command -v npm >/dev/null 2>&1; then
    echo "install-test-deps: npm not found; the tests that need Node packages will skip" >&2
    exit 0
fi

# A real Bluesky PDS (in-memory PLC + PDS on SQLite) for tests/channels/test_bluesky.py.
# 0.3.215 is the newest dev-env that runs on Node 20 (0.6.x needs Node 22). About 100 s:
# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded.
ATPROTO_DEV_ENV="0.3.215"
if [ "$(node -p "try{require('$CACHE/node_modules/@atproto/dev-env/package.json').version}catch(e){''}" 2>/dev/null)" != "$ATPROTO_DEV_ENV" ]; then
    echo "install-test-deps: npm install @atproto/dev-env@$ATPROTO_DEV_ENV into $CACHE" >&2
    npm install --no-audit --no-fund --loglevel=error "@atproto/dev-env@$ATPROTO_DEV_ENV"
fi

# axe-core for the web app's accessibility checks (tests/web/test_browser.py reads
# $AXE_CORE_PATH, default "$CACHE/node_modules/axe-core/axe.min.js").
AXE_CORE="4.14.1"
if [ "$(node -p "try{require('$CACHE/node_modules/axe-core/package.json').version}catch(e){''}" 2>/dev/null)" != "$AXE_CORE" ]; then
    echo "install-test-deps: npm install axe-core@$AXE_CORE into $CACHE" >&2
    npm install --no-audit --no-fund --loglevel=error "axe-core@$AXE_CORE"
fi

# A real OpenID Connect provider (panva's oidc-provider) for the sign-in tests
# (tests/oidc/provider.mjs, tests/people/test_oidc.py). It warns that Node 22 is the
# supported runtime; everything the tests use works on Node 20.
OIDC_PROVIDER="9.13.3"
if [ "$(node -p "try{require('$CACHE/node_modules/oidc-provider/package.json').version}catch(e){''}" 2>/dev/null)" != "$OIDC_PROVIDER" ]; then
    echo "install-test-deps: npm install oidc-provider@$OIDC_PROVIDER into $CACHE" >&2
    npm install --no-audit --no-fund --loglevel=error "oidc-provider@$OIDC_PROVIDER"
fi
