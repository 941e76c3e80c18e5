//! End-to-end tests of the whole product, in `tests/`: `sqrl-site` in headless Chromium
//! (Debian's `chromium` and `chromium-driver`), logged into with the `sqrl` command. The tests
//! skip with a message when chromedriver is not installed; `.ci/run` installs it.
