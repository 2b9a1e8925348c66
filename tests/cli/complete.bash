# Drive a bash completion function as readline would, without a terminal.
# usage: bash --norc complete.bash SCRIPT LINE
# Sources SCRIPT (what `sluice completion bash` printed), splits LINE into
# COMP_WORDS the way bash does (at blanks, then around the word-break
# characters = and :, which stay words of their own), sets COMP_CWORD,
# COMP_LINE and COMP_POINT for a cursor at the end of LINE, calls the
# function registered for sluice, and prints COMPREPLY, one a line.
set -u
# shellcheck disable=SC1090
source "$1" || exit 1
line=$2
COMP_LINE=$line
COMP_POINT=${#line}
COMP_WORDS=()
read -ra blank_words <<<"$line"
[[ -z $line || $line == *[[:blank:]] ]] && blank_words+=("")
for w in "${blank_words[@]}"; do
	if [[ -z $w ]]; then
		COMP_WORDS+=("")
		continue
	fi
	while [[ $w =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
		[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
		COMP_WORDS+=("${BASH_REMATCH[2]}")
		w=${BASH_REMATCH[3]}
	done
	[[ -n $w ]] && COMP_WORDS+=("$w")
done
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
fn=$(complete -p sluice | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[[ -n $fn ]] || { echo "complete.bash: no function registered for sluice" >&2; exit 1; }
COMPREPLY=()
"$fn" sluice "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]-}"
for c in "${COMPREPLY[@]}"; do
	printf '%s\n' "$c"
done
