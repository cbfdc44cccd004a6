#!/bin/sh
# Creates the escalations namespace on a Temporal server and registers the ticket search
# attributes in it. docker-compose.yml runs it once per `up` as the temporal-namespace job
# (temporalio/admin-tools image, which has the `temporal` CLI); it works against any server:
#
#   TEMPORAL_ADDRESS=host:7233 TEMPORAL_NAMESPACE=tickets sh deploy/temporal/setup-namespace.sh
#
# Running it again changes nothing but the retention: an existing namespace gets the retention
# asked for, attributes already registered with the same type stay, and an attribute already
# registered with another type stops the script with an error naming it.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# Closed tickets stay readable this long. Reports and SLO windows (28 days by default) read
# closed tickets from visibility, so keep it longer than the longest window you report on.
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"
ATTEMPTS="${SETUP_ATTEMPTS:-60}"

# Every attribute of workflows/search_attributes.py's ALL_KEYS, as Name:Type
# (tests/deploy/test_compose.py checks the two lists are the same).
SEARCH_ATTRIBUTES="
TicketId:Keyword
Priority:Keyword
Team:Keyword
Customer:Keyword
SlaState:Keyword
EscalationLevel:Keyword
ResponseDueAt:Datetime
ResolutionDueAt:Datetime
ResponseBreached:Bool
ResolutionBreached:Bool
Policy:Keyword
OpenedAt:Datetime
FirstResponseSeconds:Int
ResolutionSeconds:Int
PausedSeconds:Int
Reopened:Bool
Csat:Double
EscalationLevels:KeywordList
BreachedClocks:KeywordList
SlaPlan:Keyword
"

# Runs a command until it succeeds, once a second, at most $ATTEMPTS times. The server may still
# be starting, and a namespace just created reaches every frontend only after a moment.
retry() {
    attempt=1
    until "$@"; do
        if [ "$attempt" -ge "$ATTEMPTS" ]; then
            echo "setup-namespace: gave up after $ATTEMPTS attempts: $*" >&2
            return 1
        fi
        attempt=$((attempt + 1))
        sleep 1
    done
}

echo "Waiting for Temporal at $ADDRESS"
retry temporal operator cluster health --address "$ADDRESS" >/dev/null

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" \
    >/dev/null 2>&1; then
    echo "Namespace $NAMESPACE exists: setting its retention to $RETENTION"
    retry temporal operator namespace update --address "$ADDRESS" --namespace "$NAMESPACE" \
        --retention "$RETENTION"
else
    echo "Creating namespace $NAMESPACE (retention $RETENTION)"
    temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" \
        --retention "$RETENTION"
fi

set --
for attribute in $SEARCH_ATTRIBUTES; do
    set -- "$@" --name "${attribute%%:*}" --type "${attribute#*:}"
done
retry temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" \
    >/dev/null
echo "Registering $(($# / 4)) search attributes"
# The CLI refuses an attribute that exists with another type; the server accepts the ones that
# exist with the same type, so one call registers what is missing.
temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" "$@"

# Check the result rather than trust it: every attribute listed, with its type.
listed=$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE")
for attribute in $SEARCH_ATTRIBUTES; do
    if ! printf '%s\n' "$listed" | awk '{ print $1 ":" $2 }' | grep -qx "$attribute"; then
        echo "setup-namespace: $attribute is not registered in $NAMESPACE" >&2
        exit 1
    fi
done
echo "Namespace $NAMESPACE is ready"
