#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# "make check" without cmocka must fail loudly, never pass with no tests run.
echo "cmocka was not found at configure time; install libcmocka-dev and re-run ./configure" >&2
exit 99
