#!/bin/sh
# The worker process makes no admin-API call (issue 12: librdkafka 2.0.2's
# admin API can abort the process when brokers go away): in the worker's
# library, only the group probe's child (group_probe_child.c, a process of
# its own) may reference kio_admin_*. Usage: no_admin_api.sh libkfworker.a
lib="$1"
syms=$(nm -A "$lib" 2>/dev/null) || { echo "nm cannot read $lib; skipping"; exit 77; }
bad=$(printf '%s\n' "$syms" | grep ' U kio_admin_' | grep -v 'group_probe_child\.c\.o:')
if [ -n "$bad" ]; then
    echo "admin-API calls in the worker process (move them to the group probe):"
    printf '%s\n' "$bad"
    exit 1
fi
printf '%s\n' "$syms" | grep -q 'group_probe_child\.c\.o:.* U kio_admin_group_describe' || {
    echo "group_probe_child.c no longer describes the group: is $lib the worker's library?"
    exit 1
}
echo "kio_admin_* referenced only by group_probe_child.c"
