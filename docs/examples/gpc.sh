# Helpers for the README's appointment journey with curl. Source it from the
# checkout's root, in bash or zsh:   . docs/examples/gpc.sh
#
#   M                    the mock's address (GPC_MOCK, else http://127.0.0.1:8080)
#   gpc OPERATION ARGS…  curl ARGS… with the five GP Connect headers (SSP
#                        headers, a fresh JWT for OPERATION's scope and
#                        interaction) plus Accept and Content-Type of the
#                        DSTU2 API, as /__admin/sample-request?api=gpconnect-dstu2
#                        &operation=OPERATION&format=headers gives them (a
#                        curl config file: `curl -K`)
#   gpc1 OPERATION ARGS… the same for the 1.x API (gpconnect-foundations)
#   gpcs OPERATION ARGS… the same for Access Record Structured
#                        (gpconnect-structured)
#   day N                the UTC date N days from today (YYYY-MM-DD)
#   fill FILE            FILE with @DAY0@…@DAY14@ replaced by those dates and
#                        @ID@ by $id
M=${GPC_MOCK:-http://127.0.0.1:8080}

gpc() {
  _gpc_op=$1
  shift
  curl -sS -K <(curl -sSf "$M/__admin/sample-request?api=gpconnect-dstu2&operation=$_gpc_op&format=headers") "$@"
}

gpc1() {
  _gpc_op=$1
  shift
  curl -sS -K <(curl -sSf "$M/__admin/sample-request?api=gpconnect-foundations&operation=$_gpc_op&format=headers") "$@"
}

gpcs() {
  _gpc_op=$1
  shift
  curl -sS -K <(curl -sSf "$M/__admin/sample-request?api=gpconnect-structured&operation=$_gpc_op&format=headers") "$@"
}

day() {
  _gpc_at=$(( $(date -u +%s) + $1 * 86400 ))
  date -u -d "@$_gpc_at" +%Y-%m-%d 2>/dev/null || date -u -r "$_gpc_at" +%Y-%m-%d
}

fill() {
  _gpc_sed=""
  for _gpc_n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
    _gpc_sed="$_gpc_sed -e s/@DAY$_gpc_n@/$(day "$_gpc_n")/g"
  done
  # shellcheck disable=SC2086 # the sed expressions hold no spaces
  sed $_gpc_sed -e "s/@ID@/${id:-}/g" "$1"
}
