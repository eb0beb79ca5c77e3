#!/usr/bin/env bash
# /opt/jboss/container/java/run/run-java.sh, as the official image's (UBI OpenJDK)
# entry point, for the variables that matter here: runs JAVA_APP_JAR from
# JAVA_APP_DIR with JAVA_OPTS (replaces the defaults) or the defaults plus
# JAVA_OPTS_APPEND, and JAVA_ARGS as program arguments.
set -euo pipefail
: "${JAVA_APP_DIR:=/deployments}"
: "${JAVA_APP_JAR:?JAVA_APP_JAR is not set}"
# The UBI script's defaults: heap as a share of the container's memory, exit on OOM.
: "${JAVA_OPTS:=-XX:MaxRAMPercentage=80.0 -XX:+ExitOnOutOfMemoryError}"
cd "$JAVA_APP_DIR"
# Word splitting of the option variables is intended, as in the UBI script.
# shellcheck disable=SC2086
exec java $JAVA_OPTS ${JAVA_OPTS_APPEND-} -jar "$JAVA_APP_JAR" ${JAVA_ARGS-} "$@"
