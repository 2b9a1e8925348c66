#!/bin/sh
# The Debian packages: `dpkg-buildpackage -us -uc -b` builds them from the
# tracked files of this tree, lintian finds no error and no warning that is
# neither fixed nor overridden, and the .debs hold what docs/install-debian.md
# promises: programs, units installed but neither enabled nor started nor
# stopped by an upgrade, users, /var/lib/sluice, conffiles in /etc/sluice
# that load with the real loaders, man pages and completions when the build
# makes them. Slow (a whole build): .ci/run runs it as its own step, not in
# `meson test`. Run it by hand with: tests/cli/t0170-deb.sh
SLUICE=${SLUICE:-unused: the test runs the packaged programs}
. "$(dirname "$0")/lib.sh"

if ! command -v dpkg-buildpackage >/dev/null 2>&1; then
	echo "1..0 # SKIP needs dpkg-buildpackage (Debian's dpkg-dev)"
	exit 0
fi

# A clean checkout: the tracked files as they are in this tree (edits
# included, build directories and other untracked files not).
BUILD=$TMP/build
mkdir -p "$BUILD/sluice"
(cd "$SRC_DIR" && git ls-files -z | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh |
	tar -cf - -T -) | tar -xf - -C "$BUILD/sluice"
ok $? "copy the tracked files"

# The package's version is the project's.
meson_version=$(sed -n "s/^  version: '\(.*\)',\$/\1/p" "$SRC_DIR/meson.build" | head -n 1)
deb_version=$(cd "$BUILD/sluice" && dpkg-parsechangelog -S Version)
expect_str "$deb_version" "$meson_version" "debian/changelog's version is meson.build's ($meson_version)"

start=$(date +%s)
(cd "$BUILD/sluice" && dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1
status=$?
if [ "$status" -ne 0 ]; then
	tail -n 40 "$TMP/build.log" | sed 's/^/#   /'
fi
ok $status "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
DEB=$BUILD/sluice_${deb_version}_$(dpkg --print-architecture).deb
WEB_DEB=$BUILD/sluice-web_${deb_version}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] && [ -f "$WEB_DEB" ]
ok $? "both packages are built"
if [ ! -f "$DEB" ] || [ ! -f "$WEB_DEB" ]; then
	done_testing
	exit
fi

# Man pages are built only once meson_options.txt has the `man` option.
man_built=0
grep -q "^option('man'" "$SRC_DIR/meson_options.txt" && man_built=1

if command -v lintian >/dev/null 2>&1; then
	lintian "$BUILD"/sluice_*.changes >"$TMP/lintian" 2>&1
	grep '^E: ' "$TMP/lintian" >"$TMP/lintian-e"
	[ ! -s "$TMP/lintian-e" ]
	ok $? "lintian: no error"
	sed 's/^/#   /' "$TMP/lintian-e"
	# Without man pages, their absence is the one warning expected.
	if [ $man_built -eq 1 ]; then
		grep '^W: ' "$TMP/lintian" >"$TMP/lintian-w"
	else
		grep '^W: ' "$TMP/lintian" | grep -v ' no-manual-page ' >"$TMP/lintian-w"
	fi
	[ ! -s "$TMP/lintian-w" ]
	ok $? "lintian: every warning fixed or overridden"
	sed 's/^/#   /' "$TMP/lintian-w"
else
	skip 2 "needs lintian"
fi

dpkg-deb -c "$DEB" | awk '{ print substr($6, 2) }' >"$TMP/files"
dpkg-deb -c "$WEB_DEB" | awk '{ print substr($6, 2) }' >"$TMP/web-files"
has() { # has LIST PATH
	if grep -qxF "$2" "$1"; then
		ok 0 "$(basename "$1" | sed 's/^web-files$/sluice-web/; s/^files$/sluice/') holds $2"
	else
		ok 1 "$(basename "$1" | sed 's/^web-files$/sluice-web/; s/^files$/sluice/') holds $2"
	fi
}
for f in /usr/bin/sluice /usr/bin/sluice-scheduler /usr/bin/sluice-worker \
	/lib/systemd/system/sluice-scheduler.service /lib/systemd/system/sluice-worker@.service \
	/usr/lib/sysusers.d/sluice.conf /usr/lib/tmpfiles.d/sluice.conf \
	/etc/sluice/sluice.yaml /etc/sluice/worker-w1.yaml \
	/usr/share/sluice/schema.sql /usr/share/doc/sluice/install-debian.md \
	/usr/share/doc/sluice/examples/worker.yaml; do
	has "$TMP/files" "$f"
done
for f in /usr/bin/sluice-web /lib/systemd/system/sluice-web.service; do
	has "$TMP/web-files" "$f"
done
! grep -q -e '^/usr/bin/sluice-web$' -e 'sluice-web\.service$' "$TMP/files"
ok $? "sluice holds nothing of sluice-web's"
dpkg-deb -f "$DEB" Depends >"$TMP/depends"
! grep -q libgvc "$TMP/depends"
ok $? "sluice does not depend on graphviz"

if [ $man_built -eq 1 ]; then
	for page in man1/sluice.1 man8/sluice-scheduler.8 man8/sluice-worker.8 \
		man5/sluice.yaml.5 man5/sluice-worker.yaml.5 man5/sluice-dag.5; do
		has "$TMP/files" "/usr/share/man/$page.gz"
	done
	has "$TMP/web-files" /usr/share/man/man8/sluice-web.8.gz
else
	skip 7 "no man pages in this build (no man option in meson_options.txt)"
fi

# Completions, once `sluice completion` exists: where each shell looks.
dpkg-deb -x "$DEB" "$TMP/root"
ok $? "dpkg-deb -x sluice"
if "$TMP/root/usr/bin/sluice" --help 2>&1 | grep -q '^ *completion'; then
	grep -q '^/usr/share/bash-completion/completions/sluice$' "$TMP/files"
	ok $? "bash completion in /usr/share/bash-completion/completions"
	grep -q -e '^/usr/share/zsh/vendor-completions/_sluice$' -e '^/usr/share/zsh/site-functions/_sluice$' "$TMP/files"
	ok $? "zsh completion in /usr/share/zsh/vendor-completions (or site-functions)"
	grep -q -e '^/usr/share/fish/vendor_completions.d/sluice.fish$' -e '^/usr/share/fish/completions/sluice.fish$' "$TMP/files"
	ok $? "fish completion in /usr/share/fish/vendor_completions.d (or completions)"
else
	skip 3 "no completion command in this build"
fi

# Control files: the conffiles are exactly the configuration in /etc/sluice.
mkdir "$TMP/ctrl" "$TMP/web-ctrl"
dpkg-deb -e "$DEB" "$TMP/ctrl" && dpkg-deb -e "$WEB_DEB" "$TMP/web-ctrl"
ok $? "dpkg-deb -e"
expect_file "$TMP/ctrl/conffiles" "/etc/sluice/sluice.yaml
/etc/sluice/worker-w1.yaml" "conffiles: /etc/sluice/sluice.yaml and worker-w1.yaml"
expect_grep "$TMP/ctrl/postinst" "systemd-sysusers .*sluice.conf" "postinst makes the users"
expect_grep "$TMP/ctrl/postinst" "systemd-tmpfiles .*--create sluice.conf" "postinst makes /var/lib/sluice"
expect_grep "$TMP/ctrl/postinst" "chown root:sluice" "postinst gives the configuration to the group sluice"
# Sysusers before tmpfiles (which names the user) before the conffiles' owner.
awk '/systemd-sysusers/ { s = NR } /systemd-tmpfiles/ { t = NR } /chown root:sluice/ { c = NR }
	END { exit !(s && t && c && s < t && t < c) }' "$TMP/ctrl/postinst"
ok $? "postinst: users, then directories, then the configuration's owner"
for c in "$TMP/ctrl" "$TMP/web-ctrl"; do
	# --no-enable: debhelper enables a unit again only where the admin had
	# (inside `if deb-systemd-helper debian-installed`), never on install.
	! grep -q -e '_dh_action=start' -e 'deb-systemd-invoke start' "$c/postinst" &&
		awk '/^# Automatically added/ { guarded = 0 } /deb-systemd-helper debian-installed/ { guarded = 1 }
			/deb-systemd-helper enable/ && !guarded { bad = 1 } END { exit bad }' "$c/postinst"
	ok $? "$(basename "$c"): postinst neither enables nor starts a unit"
	# --no-start alone would stop a running unit before an upgrade for good.
	! grep -q 'deb-systemd-invoke stop' "$c/preinst" 2>/dev/null
	ok $? "$(basename "$c"): an upgrade does not stop the units for good"
done
expect_grep "$TMP/ctrl/postinst" "deb-systemd-invoke try-restart 'sluice-scheduler.service'" \
	"an upgrade restarts the scheduler if it runs"
expect_grep "$TMP/ctrl/postinst" "deb-systemd-invoke try-restart 'sluice-worker@\*.service'" \
	"an upgrade restarts the workers that run"
expect_grep "$TMP/web-ctrl/postinst" "deb-systemd-invoke try-restart 'sluice-web.service'" \
	"an upgrade restarts sluice-web if it runs"
expect_grep "$TMP/ctrl/postrm" "rm -rf /var/lib/sluice /var/lib/sluice-worker" "purge removes the state under /var/lib"
! grep -v '^[[:space:]]*#' "$TMP/ctrl/postrm" | grep -q -i -e dropdb -e 'DROP ' -e psql -e userdel -e deluser
ok $? "purge drops no database and removes no user"

# What the units run as is what sysusers.d makes; /var/lib/sluice is theirs.
for unit in "$TMP"/root/lib/systemd/system/*.service; do
	user=$(sed -n 's/^User=//p' "$unit")
	expect_grep "$TMP/root/usr/lib/sysusers.d/sluice.conf" "^u $user " "$(basename "$unit") runs as $user, made by sysusers.d"
	doc=$(sed -n 's|^Documentation=file://||p' "$unit")
	has "$TMP/files" "$doc"
done
expect_grep "$TMP/root/usr/lib/sysusers.d/sluice.conf" "^u sluice-task " "sysusers.d makes sluice-task"
expect_grep "$TMP/root/usr/lib/tmpfiles.d/sluice.conf" "^d /var/lib/sluice 0750 sluice sluice " \
	"tmpfiles.d: /var/lib/sluice 0750 sluice:sluice"

# The shipped configuration loads with the packaged programs' own loaders.
unset SLUICE_DATABASE_URL PGSERVICE PGPORT
PGHOST=$TMP/no-socket
export PGHOST
run "$TMP/root/usr/bin/sluice" db status --config "$TMP/root/etc/sluice/sluice.yaml"
expect_status 4 "sluice db status --config /etc/sluice/sluice.yaml: read, then no database (4)"
run "$TMP/root/usr/bin/sluice-worker" --config "$TMP/root/etc/sluice/worker-w1.yaml" --name w1 --check-config
expect_status 0 "sluice-worker --check-config /etc/sluice/worker-w1.yaml"
expect_grep "$TMP/root/etc/sluice/worker-w1.yaml" "^state_dir: /var/lib/sluice-worker/w1" \
	"worker-w1.yaml: state_dir is the unit's StateDirectory"

done_testing
