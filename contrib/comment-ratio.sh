#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# How much of the C source is comment, per file and in total.
#   sh contrib/comment-ratio.sh                 src/*.c and src/*.h
#   sh contrib/comment-ratio.sh FILE...         just these files
# Prints one row per file, one for the .c and one for the .h files, and a
# TOTAL row:
#   lines    the non-blank lines
#   comment  the lines that hold any part of a /* */ or // comment, a line
#            that mixes code and a comment included
#   text     those of them whose comment part has a letter or a digit, so
#            not the bare "/*", " *" and " */" lines of a block comment
# and each as a percentage of lines.  It cannot tell a comment that says
# why from one that restates the next line; that is the reader's job.
# String and character literals are skipped, so "/*" in a string is code.
set -eu

if [ "$#" -eq 0 ]; then
	cd "$(dirname "$0")/.."
	set -- src/*.c src/*.h
fi

awk '
function flush() {
	if (cur == "")
		return
	row(cur, nb, cm, tx)
	tnb += nb; tcm += cm; ttx += tx
	ext = cur ~ /\.h$/ ? "h" : "c"
	enb[ext] += nb; ecm[ext] += cm; etx[ext] += tx
	nb = cm = tx = 0
}
BEGIN {
	printf "%-22s %6s %6s %6s %6s %6s\n", "file", "lines", "comment", "%",
	    "text", "%"
}
FNR == 1 {
	flush()
	cur = FILENAME
	incomment = 0
}
{
	line = $0
	if (line !~ /[^ \t\r]/)
		next
	nb++
	# hascomment: some character of this line is in a comment;
	# hastext: one of them is a letter or a digit.
	hascomment = incomment
	hastext = 0
	instr = ""
	n = length(line)
	for (i = 1; i <= n; i++) {
		c = substr(line, i, 1)
		two = substr(line, i, 2)
		if (incomment) {
			hascomment = 1
			if (two == "*/") {
				incomment = 0
				i++
			} else if (c ~ /[A-Za-z0-9]/)
				hastext = 1
		} else if (instr != "") {
			if (c == "\\")
				i++
			else if (c == instr)
				instr = ""
		} else if (c == "\"" || c == "\047") {
			instr = c
		} else if (two == "/*") {
			incomment = 1
			hascomment = 1
			i++
		} else if (two == "//") {
			hascomment = 1
			if (substr(line, i + 2) ~ /[A-Za-z0-9]/)
				hastext = 1
			break
		}
	}
	if (hascomment)
		cm++
	if (hastext)
		tx++
}
function row(name, nb, cm, tx) {
	printf "%-22s %6d %6d %5.1f%% %6d %5.1f%%\n", name, nb, cm,
	    nb ? 100 * cm / nb : 0, tx, nb ? 100 * tx / nb : 0
}
END {
	flush()
	row("all .c files", enb["c"], ecm["c"], etx["c"])
	row("all .h files", enb["h"], ecm["h"], etx["h"])
	row("TOTAL", tnb, tcm, ttx)
}
' "$@"
