#!/bin/sh
# Stands in for a test that drives test hooks (KFLEET_TEST_HOOKS) in a build
# without them: meson shows it as skipped, with the reason in its log.
echo "${1:-this test} needs the test hooks: meson configure -Dtest_hooks=true BUILD (ops/test does)"
exit 77
