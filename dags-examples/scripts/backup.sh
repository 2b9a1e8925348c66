#!/bin/sh
# dump STAMP | verify | rotate --keep N, on files under $BACKUP_DIR.
set -eu
dir=${BACKUP_DIR:-/tmp/sluice-demo/backups}
mkdir -p "$dir"
case ${1:?command} in
dump)
	printf 'backup %s\n' "$2" | gzip >"$dir/backup-$2.gz"
	echo "wrote $dir/backup-$2.gz" ;;
verify)
	latest=$(ls -1 "$dir"/backup-*.gz | tail -n 1)
	gzip -t "$latest" && echo "verified $latest" ;;
rotate)
	keep=${3:-28}
	ls -1 "$dir"/backup-*.gz | head -n "-$keep" | xargs -r rm -f
	echo "kept the newest $keep backups" ;;
*) echo "backup: unknown command $1" >&2; exit 2 ;;
esac
