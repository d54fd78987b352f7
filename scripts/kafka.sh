#!/usr/bin/env bash
# The broker the tests run against: a single-node Apache Kafka (KRaft, broker and controller in one
# process) on 127.0.0.1, with one listener per security protocol.
#
#   scripts/kafka.sh start          fetch the jars (Maven), format, start; reuses a running broker
#   scripts/kafka.sh stop           stop the broker this checkout started
#   scripts/kafka.sh status         "running"/"stopped"; exit code 0 when running, 3 when stopped
#   scripts/kafka.sh env            shell exports for the tests: eval "$(scripts/kafka.sh env)"
#   scripts/kafka.sh reset          stop and delete this version's data, config and certificates
#   scripts/kafka.sh fetch          only fetch the jars
#   scripts/kafka.sh logs [N]       the last N lines of the broker's log
#   scripts/kafka.sh class TOOL     the main class of a Java tool for this Kafka version
#   scripts/kafka.sh run-class CLASS ARGS...   run a class from the Kafka jars (tools' JVM settings)
#   scripts/kafka.sh TOOL ARGS...   run a Java tool by name (the list is below), e.g.
#                                   console-producer, console-consumer, topics, producer-perf
#
# A multi-broker cluster instead, beside the single broker (other ports, other run directory):
#
#   scripts/kafka.sh start --brokers 3    three brokers (racks rack-a, rack-b, rack-c) and a KRaft
#                                         controller, PLAINTEXT only; starts the nodes that are down
#   scripts/kafka.sh stop|status|env|reset|logs --brokers 3   the same commands for the cluster
#   scripts/kafka.sh kill-broker N        SIGKILL broker N (1…3) of the running cluster
#   scripts/kafka.sh start-broker N       start broker N again and wait until it serves metadata
#
# Environment (inputs): KAFKA_VERSION (default 4.4.0; 4.3.x and 3.9.x work too), KAFKA_PLAINTEXT_PORT (19092),
# KAFKA_SASL_PLAINTEXT_PORT (19093), KAFKA_SSL_PORT (19094), KAFKA_SASL_SSL_PORT (19095),
# KAFKA_CONTROLLER_PORT (19096), KAFKA_REAUTH_PORT (19097: SASL_PLAINTEXT whose sessions last
# KAFKA_REAUTH_MS, 3000, so clients must re-authenticate, KIP-368), KAFKA_PROXIED_PORT (19098: PLAINTEXT,
# advertised as KAFKA_PROXY_PORT, 19099, where a test's fault-injecting proxy listens and forwards to
# it, so that every connection of a client goes through the proxy), KAFKA_OAUTH_PORT (19100: SASL_PLAINTEXT
# with OAUTHBEARER only, validating unsecured JWS tokens (alg none, any subject), sessions of KAFKA_REAUTH_MS),
# KAFKA_HEAP_OPTS (-Xmx1g -Xms256m), KAFKA_START_TIMEOUT (seconds, 120).
# The cluster: KAFKA_BROKERS (instead of --brokers), KAFKA_CLUSTER_PORT (19290: the controller; broker
# n listens on KAFKA_CLUSTER_PORT + n), KAFKA_CLUSTER_HEAP_OPTS (-Xmx512m -Xms128m per broker),
# KAFKA_CLUSTER_CONTROLLER_HEAP_OPTS (-Xmx256m -Xms64m).
#
# Layout: jars in target/kafka/<version>/libs (copied from the local Maven repository), the broker's
# config, data, logs, certificates and pid under target/kafka-run/<version>/ (<version>-<port> on a
# KAFKA_PLAINTEXT_PORT other than 19092). Only one broker can own
# the ports: a broker of the same version started by another checkout of this repository is reused
# (its env is printed), a broker of another version makes `start` refuse.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/kafka.sh"

KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
if [[ ! $KAFKA_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "kafka.sh: KAFKA_VERSION must look like 4.4.0, got '$KAFKA_VERSION'" >&2
    exit 2
fi
KAFKA_MAJOR=${KAFKA_VERSION%%.*}
SCALA_BINARY=2.13

CACHE_DIR="$ROOT/target/kafka/$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"

HOST=127.0.0.1
PLAINTEXT_PORT=${KAFKA_PLAINTEXT_PORT:-19092}
# A broker on other ports has a run directory of its own, so that two brokers of one version
# (the default one and, say, CI's previous-line broker) can run side by side.
RUN_DIR="$ROOT/target/kafka-run/$KAFKA_VERSION"
if [[ $PLAINTEXT_PORT != 19092 ]]; then
    RUN_DIR+="-$PLAINTEXT_PORT"
fi
SASL_PLAINTEXT_PORT=${KAFKA_SASL_PLAINTEXT_PORT:-19093}
SSL_PORT=${KAFKA_SSL_PORT:-19094}
SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-19095}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19096}
REAUTH_PORT=${KAFKA_REAUTH_PORT:-19097}
PROXIED_PORT=${KAFKA_PROXIED_PORT:-19098}
PROXY_PORT=${KAFKA_PROXY_PORT:-19099}
OAUTH_PORT=${KAFKA_OAUTH_PORT:-19100}
REAUTH_MS=${KAFKA_REAUTH_MS:-3000}
ALL_PORTS=("$PLAINTEXT_PORT" "$SASL_PLAINTEXT_PORT" "$SSL_PORT" "$SASL_SSL_PORT" "$CONTROLLER_PORT" "$REAUTH_PORT" "$PROXIED_PORT" "$OAUTH_PORT")

# Test credentials: not secrets, but kept out of the broker's log all the same.
SASL_USERNAME=laminar
SASL_PASSWORD=laminar-secret
ADMIN_USERNAME="admin"
ADMIN_PASSWORD=admin-secret
SASL_MECHANISMS=(PLAIN SCRAM-SHA-256 SCRAM-SHA-512)
STORE_PASSWORD=laminar-store

HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
# Tools are short-lived: a small heap and the C1 compiler start them about twice as fast.
TOOL_JVM_OPTS=(-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

# Machine-wide record of which run directory owns the ports, so that two checkouts (a developer's and
# a CI clone) share one broker instead of fighting over the ports.
REGISTRY_DIR=${TMPDIR:-/tmp}/laminar-kafka-harness
REGISTRY_FILE="$REGISTRY_DIR/broker-$PLAINTEXT_PORT"

# Java tools by name: the first class found in the jars wins (classes moved between 3.9 and 4.x).
declare -A TOOLS=(
    [console-producer]="org.apache.kafka.tools.ConsoleProducer kafka.tools.ConsoleProducer"
    [console-consumer]="org.apache.kafka.tools.consumer.ConsoleConsumer kafka.tools.ConsoleConsumer"
    [producer-perf]="org.apache.kafka.tools.ProducerPerformance"
    [consumer-perf]="org.apache.kafka.tools.ConsumerPerformance kafka.tools.ConsumerPerformance"
    [topics]="org.apache.kafka.tools.TopicCommand kafka.admin.TopicCommand"
    [consumer-groups]="org.apache.kafka.tools.consumer.group.ConsumerGroupCommand kafka.admin.ConsumerGroupCommand"
    [configs]="org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand"
    [broker-api-versions]="org.apache.kafka.tools.BrokerApiVersionsCommand kafka.admin.BrokerApiVersionsCommand"
    [get-offsets]="org.apache.kafka.tools.GetOffsetShell kafka.tools.GetOffsetShell"
    [delete-records]="org.apache.kafka.tools.DeleteRecordsCommand kafka.admin.DeleteRecordsCommand"
    [transactions]="org.apache.kafka.tools.TransactionsCommand"
    [features]="org.apache.kafka.tools.FeatureCommand"
    [metadata-quorum]="org.apache.kafka.tools.MetadataQuorumCommand"
    [verifiable-producer]="org.apache.kafka.tools.VerifiableProducer"
    [verifiable-consumer]="org.apache.kafka.tools.VerifiableConsumer"
    [storage]="kafka.tools.StorageTool org.apache.kafka.tools.StorageTool"
    [server]="kafka.Kafka"
)

log() { echo "kafka.sh: $*" >&2; }
die() {
    log "$*"
    exit 1
}

# --- jars ------------------------------------------------------------------------------------------

# The slf4j binding each version's own scripts put on the classpath: log4j2 from 4.0 on, reload4j
# before.
logging_dependencies() {
    if ((KAFKA_MAJOR >= 4)); then
        cat <<'EOF'
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.16</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
EOF
    else
        cat <<'EOF'
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
EOF
    fi
}

pom() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: the jars of an Apache Kafka $KAFKA_VERSION broker and its tools. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.laminar.kafka-harness</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
$(logging_dependencies)
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_BINARY</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

# Whether the jar cache is complete and was made from the pom this script makes now.
jars_current() {
    [[ -f $LIBS/.complete && -f $CACHE_DIR/pom.xml ]] && [[ $(pom) == "$(cat "$CACHE_DIR/pom.xml")" ]]
}

fetch_jars() {
    jars_current && return 0
    ensure_command java openjdk-17-jdk-headless
    ensure_command mvn maven
    mkdir -p "$CACHE_DIR"
    exec 8>"$CACHE_DIR/.lock"
    flock 8
    if jars_current; then
        exec 8>&-
        return 0
    fi
    if [[ -f $LIBS/.complete ]] && running_pid_of "$RUN_DIR" >/dev/null; then
        # Never swap the jars under a running broker.
        log "the jars in $LIBS predate this script's dependency list; they are refreshed once the broker is stopped"
        exec 8>&-
        return 0
    fi
    log "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $LIBS"
    rm -f "$LIBS/.complete"
    pom >"$CACHE_DIR/pom.xml"
    rm -rf "$LIBS.tmp"
    if ! (cd "$CACHE_DIR" && mvn -B -q -f pom.xml \
        org.apache.maven.plugins:maven-dependency-plugin:2.8:copy-dependencies \
        -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime >"$CACHE_DIR/mvn.log" 2>&1); then
        tail -n 40 "$CACHE_DIR/mvn.log" >&2
        die "Maven could not fetch Kafka $KAFKA_VERSION (full log: $CACHE_DIR/mvn.log)"
    fi
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    index_classes
    touch "$LIBS/.complete"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars"
    exec 8>&-
}

# A list of the classes in Kafka's own jars, to find the tools' main classes.
index_classes() {
    local jar
    for jar in "$LIBS"/kafka*.jar; do
        if command -v unzip >/dev/null; then
            unzip -Z1 "$jar"
        else
            jar tf "$jar"
        fi
    done | grep '\.class$' | sed 's/\.class$//; s#/#.#g' | sort -u >"$LIBS/.classes"
}

tool_class() {
    local tool=$1 candidate
    [[ -n ${TOOLS[$tool]:-} ]] || die "unknown tool '$tool'; known: $(printf '%s ' "${!TOOLS[@]}")"
    fetch_jars
    [[ -f $LIBS/.classes ]] || index_classes
    for candidate in ${TOOLS[$tool]}; do
        if grep -qxF "$candidate" "$LIBS/.classes"; then
            echo "$candidate"
            return 0
        fi
    done
    die "Kafka $KAFKA_VERSION has none of the classes for '$tool': ${TOOLS[$tool]}"
}

# --- configuration ---------------------------------------------------------------------------------

write_logging_configs() {
    local dir=$1
    mkdir -p "$dir"
    # log4j2 (Kafka 4.x): the broker logs INFO to stdout (redirected to logs/server.log), tools WARN to
    # stderr so that their stdout carries only data.
    cat >"$dir/broker-log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.zk.name = org.apache.zookeeper
logger.zk.level = WARN
EOF
    cat >"$dir/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
EOF
    # reload4j (Kafka 3.x): the same.
    cat >"$dir/broker-log4j.properties" <<'EOF'
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
    cat >"$dir/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, err
log4j.appender.err=org.apache.log4j.ConsoleAppender
log4j.appender.err.Target=System.err
log4j.appender.err.layout=org.apache.log4j.PatternLayout
log4j.appender.err.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

logging_opts() {
    local dir=$1 who=$2
    echo "-Dlog4j2.configurationFile=$dir/$who-log4j2.properties -Dlog4j.configuration=file:$dir/$who-log4j.properties"
}

# A CA, the broker's certificate (localhost and 127.0.0.1), a client certificate for mutual TLS and an
# unrelated CA, all with the openssl command line tool. Kept across restarts; `reset` renews them.
generate_tls() {
    local dir="$RUN_DIR/tls"
    [[ -f $dir/.complete ]] && return 0
    rm -rf "$dir"
    mkdir -p "$dir"
    log "generating the test CA and certificates in $dir"
    (
        cd "$dir"
        umask 077
        local days=3650
        ca() { # name subject
            openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
                -keyout "$1.key" -out "$1.pem" -subj "$2" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -addext "subjectKeyIdentifier=hash" 2>/dev/null
        }
        leaf() { # name subject extensions
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
            openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
            printf '%s\n' "$3" >"$1.ext"
            openssl x509 -req -sha256 -days "$days" -in "$1.csr" -CA ca.pem -CAkey ca.key \
                -CAcreateserial -extfile "$1.ext" -out "$1.pem" 2>/dev/null
            rm -f "$1.csr" "$1.ext"
        }
        ca ca "/O=laminar-kafka/CN=laminar-kafka test CA"
        ca bad-ca "/O=unrelated/CN=unrelated test CA"
        rm -f bad-ca.key
        leaf broker "/O=laminar-kafka/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier=keyid"
        leaf client "/O=laminar-kafka/CN=$SASL_USERNAME" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid"
        openssl pkcs12 -export -name broker -inkey broker.key -in broker.pem -certfile ca.pem \
            -out broker.p12 -passout "pass:$STORE_PASSWORD"
        openssl pkcs12 -export -name client -inkey client.key -in client.pem -certfile ca.pem \
            -out client.p12 -passout "pass:$STORE_PASSWORD"
        # Public material is world-readable; the keys stay private.
        chmod 644 ca.pem bad-ca.pem broker.pem client.pem
    )
    touch "$dir/.complete"
}

jaas_plain() {
    printf 'org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s" user_%s="%s" user_%s="%s";' \
        "$ADMIN_USERNAME" "$ADMIN_PASSWORD" "$ADMIN_USERNAME" "$ADMIN_PASSWORD" "$SASL_USERNAME" "$SASL_PASSWORD"
}

write_server_properties() {
    local conf="$RUN_DIR/config" tls="$RUN_DIR/tls" listener mech lower
    mkdir -p "$conf" "$RUN_DIR/data" "$RUN_DIR/logs"
    {
        cat <<EOF
# Generated by scripts/kafka.sh for Kafka $KAFKA_VERSION: a single-node test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PLAINTEXT_PORT,SASL_PLAINTEXT://$HOST:$SASL_PLAINTEXT_PORT,SSL://$HOST:$SSL_PORT,SASL_SSL://$HOST:$SASL_SSL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT,REAUTH://$HOST:$REAUTH_PORT,PROXIED://$HOST:$PROXIED_PORT,OAUTH://$HOST:$OAUTH_PORT
advertised.listeners=PLAINTEXT://$HOST:$PLAINTEXT_PORT,SASL_PLAINTEXT://$HOST:$SASL_PLAINTEXT_PORT,SSL://$HOST:$SSL_PORT,SASL_SSL://$HOST:$SASL_SSL_PORT,REAUTH://$HOST:$REAUTH_PORT,PROXIED://$HOST:$PROXY_PORT,OAUTH://$HOST:$OAUTH_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT,REAUTH:SASL_PLAINTEXT,PROXIED:PLAINTEXT,OAUTH:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN_DIR/data

# One node: every internal topic has one replica.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests rely on UNKNOWN_TOPIC_OR_PARTITION for topics they did not create.
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.check.interval.ms=30000
# No time-based retention unless a topic asks for it: tests write records with explicit timestamps
# from long ago (the codec vectors' 0), which the 7-day default deletes at the next check, before
# a slow reader (a JVM starting on a loaded machine) has read them.
log.retention.ms=-1

# SASL: PLAIN users come from the JAAS config below, SCRAM credentials were written at format time.
sasl.enabled.mechanisms=$(IFS=,; echo "${SASL_MECHANISMS[*]}")
EOF
        for listener in sasl_plaintext sasl_ssl reauth; do
            echo "listener.name.$listener.plain.sasl.jaas.config=$(jaas_plain)"
            for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
                lower=$(tr '[:upper:]' '[:lower:]' <<<"$mech")
                echo "listener.name.$listener.$lower.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
            done
        done
        # The REAUTH listener grants short sessions: clients re-authenticate or are disconnected.
        for mech in plain scram-sha-256 scram-sha-512; do
            echo "listener.name.reauth.$mech.connections.max.reauth.ms=$REAUTH_MS"
        done
        # The OAUTH listener: OAUTHBEARER alone, with Kafka's unsecured JWS validator (tokens with
        # alg "none", checked for syntax and expiry only), and the REAUTH listener's short sessions,
        # which the broker further caps at each token's expiry.
        cat <<EOF
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oauth.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="$ADMIN_USERNAME";
listener.name.oauth.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler
listener.name.oauth.oauthbearer.connections.max.reauth.ms=$REAUTH_MS
EOF
        cat <<EOF

# TLS: the broker certificate signed by the test CA; client certificates are checked against the same
# CA. The SSL listener asks for one (mutual TLS) but does not insist.
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$STORE_PASSWORD
ssl.key.password=$STORE_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.ssl.ssl.client.auth=requested
listener.name.sasl_ssl.ssl.client.auth=none
EOF
    } >"$conf/server.properties.tmp"
    mv "$conf/server.properties.tmp" "$conf/server.properties"
    chmod 600 "$conf/server.properties"
}

# client.properties for the Java tools, one per listener (and per SASL mechanism).
write_client_properties() {
    local dir="$RUN_DIR/client" tls="$RUN_DIR/tls" mech lower login
    mkdir -p "$dir"
    local ssl_props="ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem"
    echo "security.protocol=PLAINTEXT" >"$dir/plaintext.properties"
    printf 'security.protocol=SSL\n%s\n' "$ssl_props" >"$dir/ssl.properties"
    printf 'security.protocol=SSL\n%s\nssl.keystore.type=PKCS12\nssl.keystore.location=%s\nssl.keystore.password=%s\nssl.key.password=%s\n' \
        "$ssl_props" "$tls/client.p12" "$STORE_PASSWORD" "$STORE_PASSWORD" >"$dir/ssl-mtls.properties"
    for mech in "${SASL_MECHANISMS[@]}"; do
        lower=$(tr '[:upper:]' '[:lower:]' <<<"$mech")
        if [[ $mech == PLAIN ]]; then
            login=org.apache.kafka.common.security.plain.PlainLoginModule
        else
            login=org.apache.kafka.common.security.scram.ScramLoginModule
        fi
        local jaas="sasl.mechanism=$mech
sasl.jaas.config=$login required username=\"$SASL_USERNAME\" password=\"$SASL_PASSWORD\";"
        printf 'security.protocol=SASL_PLAINTEXT\n%s\n' "$jaas" >"$dir/sasl_plaintext-$lower.properties"
        printf 'security.protocol=SASL_SSL\n%s\n%s\n' "$jaas" "$ssl_props" >"$dir/sasl_ssl-$lower.properties"
    done
    cp "$dir/sasl_plaintext-scram-sha-512.properties" "$dir/sasl_plaintext.properties"
    cp "$dir/sasl_ssl-scram-sha-512.properties" "$dir/sasl_ssl.properties"
}

env_lines() {
    local dir=$1 client="$1/client" tls="$1/tls" version
    version=$(cat "$dir/version" 2>/dev/null || echo "$KAFKA_VERSION")
    local -a vars=(
        KAFKA_VERSION "$version"
        KAFKA_BOOTSTRAP "$HOST:$PLAINTEXT_PORT"
        KAFKA_BOOTSTRAP_SASL_PLAINTEXT "$HOST:$SASL_PLAINTEXT_PORT"
        KAFKA_BOOTSTRAP_SSL "$HOST:$SSL_PORT"
        KAFKA_BOOTSTRAP_SASL_SSL "$HOST:$SASL_SSL_PORT"
        KAFKA_BOOTSTRAP_REAUTH "$HOST:$REAUTH_PORT"
        KAFKA_REAUTH_MS "$REAUTH_MS"
        KAFKA_BOOTSTRAP_PROXIED "$HOST:$PROXY_PORT"
        KAFKA_PROXIED_TARGET "$HOST:$PROXIED_PORT"
        KAFKA_BOOTSTRAP_OAUTH "$HOST:$OAUTH_PORT"
        KAFKA_SASL_USERNAME "$SASL_USERNAME"
        KAFKA_SASL_PASSWORD "$SASL_PASSWORD"
        KAFKA_SASL_MECHANISMS "${SASL_MECHANISMS[*]}"
        KAFKA_CA_FILE "$tls/ca.pem"
        KAFKA_BAD_CA_FILE "$tls/bad-ca.pem"
        KAFKA_CLIENT_CERT_FILE "$tls/client.pem"
        KAFKA_CLIENT_KEY_FILE "$tls/client.key"
        KAFKA_LIBS "$(dirname "$(dirname "$dir")")/kafka/$version/libs"
        KAFKA_HARNESS "$(cat "$dir/harness" 2>/dev/null || echo "$SELF")"
        KAFKA_RUN_DIR "$dir"
        KAFKA_JAVA_PROPERTIES_DIR "$client"
        KAFKA_JAVA_PLAINTEXT_PROPERTIES "$client/plaintext.properties"
        KAFKA_JAVA_SASL_PLAINTEXT_PROPERTIES "$client/sasl_plaintext.properties"
        KAFKA_JAVA_SSL_PROPERTIES "$client/ssl.properties"
        KAFKA_JAVA_SSL_MTLS_PROPERTIES "$client/ssl-mtls.properties"
        KAFKA_JAVA_SASL_SSL_PROPERTIES "$client/sasl_ssl.properties"
    )
    local i
    for ((i = 0; i < ${#vars[@]}; i += 2)); do
        printf 'export %s=%q\n' "${vars[i]}" "${vars[i + 1]}"
    done
}

# --- process ---------------------------------------------------------------------------------------

# Whether $1 is the pid of the broker of run directory $2 (not a recycled pid of something else).
is_our_broker() {
    local pid=$1 dir=$2 cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *java* && $cmdline == *kafka.Kafka* && $cmdline == *"$dir/config/server.properties"* ]]
}

running_pid_of() {
    local dir=$1 pid
    pid=$(cat "$dir/kafka.pid" 2>/dev/null) || return 1
    is_our_broker "$pid" "$dir" || return 1
    echo "$pid"
}

# The run directory of a live harness broker that owns our ports, from this or another checkout.
registered_owner() {
    local dir
    dir=$(cat "$REGISTRY_FILE" 2>/dev/null) || return 1
    [[ -n $dir ]] || return 1
    running_pid_of "$dir" >/dev/null || return 1
    echo "$dir"
}

# The run directory whose broker serves this checkout: ours if it runs, else a same-version broker of
# another checkout on the same ports.
active_run_dir() {
    if running_pid_of "$RUN_DIR" >/dev/null; then
        echo "$RUN_DIR"
        return 0
    fi
    local owner
    owner=$(registered_owner) || return 1
    [[ $(cat "$owner/version" 2>/dev/null) == "$KAFKA_VERSION" ]] || return 1
    [[ $(cat "$owner/ports" 2>/dev/null) == "${ALL_PORTS[*]}" ]] || return 1
    echo "$owner"
}

port_open() {
    timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Installs a Debian package when its command is missing (the harness runs as root on CI).
ensure_command() { # command package
    command -v "$1" >/dev/null && return 0
    log "$1 is missing: installing the Debian package $2"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "$1 is missing and this is not root: install it (apt-get install -y $2)"
        sudo=(sudo)
    fi
    if [[ -z ${APT_UPDATED:-} ]]; then
        "${sudo[@]}" apt-get update -qq >/dev/null || die "apt-get update failed; install $2 by hand"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$2" >/dev/null ||
        die "apt-get install $2 failed"
}

kcat_metadata() { # bootstrap extra-args...
    local bootstrap=$1
    shift
    timeout 15 kcat -L -b "$bootstrap" -m 10 "$@" 2>&1
}

tail_log() {
    echo "----- last lines of $RUN_DIR/logs/server.log -----" >&2
    tail -n "${1:-40}" "$RUN_DIR/logs/server.log" >&2 2>/dev/null || true
    echo "-----" >&2
}

wait_ready() {
    local pid=$1 deadline=$((SECONDS + START_TIMEOUT)) port out
    # PLAIN, not SCRAM: Debian's kcat (librdkafka 2.0.2) fails SCRAM against Kafka 4 brokers.
    local -a sasl_ssl=(-X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN
        -X "sasl.username=$SASL_USERNAME" -X "sasl.password=$SASL_PASSWORD"
        -X "ssl.ca.location=$RUN_DIR/tls/ca.pem")
    while :; do
        if ! is_our_broker "$pid" "$RUN_DIR"; then
            tail_log 60
            die "the broker (pid $pid) exited during start-up"
        fi
        if ((SECONDS >= deadline)); then
            tail_log 60
            die "the broker did not answer within ${START_TIMEOUT}s (log: $RUN_DIR/logs/server.log)"
        fi
        local all_open=1
        for port in "${ALL_PORTS[@]}"; do
            port_open "$port" || all_open=0
        done
        if ((all_open)); then
            # A metadata answer listing our broker on the plain listener, then one through TLS and SASL.
            if out=$(kcat_metadata "$HOST:$PLAINTEXT_PORT") && grep -q "broker 1 at" <<<"$out" &&
                out=$(kcat_metadata "$HOST:$SASL_SSL_PORT" "${sasl_ssl[@]}") && grep -q "broker 1 at" <<<"$out"; then
                return 0
            fi
        fi
        sleep 1
    done
}

# A random 16-byte id in Kafka's URL-safe base64 form, the same as `kafka-storage.sh random-uuid`,
# which never starts with '-' either: the storage tool would take such an id for an option.
random_cluster_id() {
    local id
    while :; do
        id=$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id != -* ]] && break
    done
    echo "$id"
}

format_storage() {
    [[ -f $RUN_DIR/data/meta.properties ]] && return 0
    local cluster_id class
    cluster_id=$(random_cluster_id)
    class=$(tool_class storage)
    log "formatting the KRaft storage in $RUN_DIR/data (cluster id $cluster_id)"
    local -a scram=()
    local mech user pass
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        for user in "$SASL_USERNAME" "$ADMIN_USERNAME"; do
            if [[ $user == "$SASL_USERNAME" ]]; then pass=$SASL_PASSWORD; else pass=$ADMIN_PASSWORD; fi
            scram+=(--add-scram "$mech=[name=$user,password=$pass]")
        done
    done
    # shellcheck disable=SC2046
    if ! java "${TOOL_JVM_OPTS[@]}" $(logging_opts "$RUN_DIR/config" tools) -cp "$LIBS/*" "$class" \
        format -t "$cluster_id" -c "$RUN_DIR/config/server.properties" "${scram[@]}" \
        >"$RUN_DIR/logs/format.log" 2>&1; then
        cat "$RUN_DIR/logs/format.log" >&2
        die "formatting the storage failed"
    fi
}

check_ports_free() {
    local port holders
    for port in "${ALL_PORTS[@]}"; do
        if port_open "$port"; then
            holders=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed 's/.*users:/users:/' | head -n 1)
            die "port $port on $HOST is already in use${holders:+ ($holders)}; stop that process or choose other ports (KAFKA_PLAINTEXT_PORT, KAFKA_SASL_PLAINTEXT_PORT, KAFKA_SSL_PORT, KAFKA_SASL_SSL_PORT, KAFKA_CONTROLLER_PORT, KAFKA_REAUTH_PORT, KAFKA_PROXIED_PORT, KAFKA_OAUTH_PORT)"
        fi
    done
}

cmd_start() {
    mkdir -p "$RUN_DIR" "$REGISTRY_DIR"
    exec 9>"$RUN_DIR/.lock"
    flock 9
    ensure_command kcat kcat
    ensure_command openssl openssl
    local pid owner
    if pid=$(running_pid_of "$RUN_DIR"); then
        wait_ready "$pid"
        log "Kafka $KAFKA_VERSION is already running (pid $pid)"
        return 0
    fi
    if owner=$(registered_owner); then
        if [[ $(cat "$owner/version" 2>/dev/null) == "$KAFKA_VERSION" && $(cat "$owner/ports" 2>/dev/null) == "${ALL_PORTS[*]}" ]]; then
            log "reusing the Kafka $KAFKA_VERSION broker of $owner (pid $(running_pid_of "$owner"))"
            return 0
        fi
        die "Kafka $(cat "$owner/version" 2>/dev/null || echo '?') from $owner is running on these ports; stop it first: KAFKA_VERSION=$(cat "$owner/version" 2>/dev/null) $(cat "$owner/harness" 2>/dev/null || echo scripts/kafka.sh) stop"
    fi
    check_ports_free
    fetch_jars
    generate_tls
    write_logging_configs "$RUN_DIR/config"
    write_server_properties
    write_client_properties
    format_storage
    echo "$KAFKA_VERSION" >"$RUN_DIR/version"
    echo "${ALL_PORTS[*]}" >"$RUN_DIR/ports"
    echo "$SELF" >"$RUN_DIR/harness"
    env_lines "$RUN_DIR" >"$RUN_DIR/harness.env"

    log "starting Kafka $KAFKA_VERSION on $HOST ports ${ALL_PORTS[*]}"
    # shellcheck disable=SC2046,SC2086
    setsid java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        $(logging_opts "$RUN_DIR/config" broker) -Dkafka.logs.dir="$RUN_DIR/logs" \
        -cp "$LIBS/*" kafka.Kafka "$RUN_DIR/config/server.properties" \
        >"$RUN_DIR/logs/server.log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$RUN_DIR/kafka.pid"
    echo "$RUN_DIR" >"$REGISTRY_FILE"
    local started=$SECONDS i
    # The forked shell becomes java by exec: give it a moment before judging its command line.
    for ((i = 0; i < 100; i++)); do
        is_our_broker "$pid" "$RUN_DIR" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if ! (wait_ready "$pid"); then
        stop_pid "$pid" >/dev/null 2>&1 || true
        exit 1
    fi
    log "Kafka $KAFKA_VERSION is up (pid $pid, $((SECONDS - started))s); eval \"\$($SELF env)\" for the tests"
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 300; i++)); do
        is_our_broker "$pid" "$RUN_DIR" || return 0
        sleep 0.1
    done
    log "the broker (pid $pid) did not stop within 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        is_our_broker "$pid" "$RUN_DIR" || return 0
        sleep 0.1
    done
    die "could not stop pid $pid"
}

cmd_stop() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/.lock"
    flock 9
    local pid owner
    if pid=$(running_pid_of "$RUN_DIR"); then
        stop_pid "$pid"
        rm -f "$RUN_DIR/kafka.pid"
        if [[ $(cat "$REGISTRY_FILE" 2>/dev/null) == "$RUN_DIR" ]]; then
            rm -f "$REGISTRY_FILE"
        fi
        log "stopped Kafka $KAFKA_VERSION (pid $pid)"
        return 0
    fi
    rm -f "$RUN_DIR/kafka.pid"
    if owner=$(registered_owner); then
        log "no broker of this checkout runs; the one on these ports belongs to $owner and is left alone"
    else
        log "Kafka $KAFKA_VERSION is not running"
    fi
}

cmd_status() {
    local dir pid
    if dir=$(active_run_dir); then
        pid=$(running_pid_of "$dir")
        if [[ $dir == "$RUN_DIR" ]]; then
            echo "running: Kafka $KAFKA_VERSION, pid $pid, $dir"
        else
            echo "running: Kafka $KAFKA_VERSION, pid $pid, shared from $dir"
        fi
        return 0
    fi
    echo "stopped: Kafka $KAFKA_VERSION ($RUN_DIR)"
    return 3
}

cmd_env() {
    local dir
    if dir=$(active_run_dir); then
        cat "$dir/harness.env"
    elif dir=$(registered_owner) && [[ -f $dir/harness.env ]]; then
        # A broker of another version owns these ports (one started before the default changed):
        # the tests talk to it, so they get its variables, certificates included.
        log "note: Kafka $(cat "$dir/version" 2>/dev/null) from $dir runs on these ports, not $KAFKA_VERSION; printing its env"
        cat "$dir/harness.env"
    else
        log "note: Kafka $KAFKA_VERSION is not running; start it with: $SELF start"
        env_lines "$RUN_DIR"
    fi
}

cmd_reset() {
    cmd_stop
    rm -rf "$RUN_DIR"
    log "removed $RUN_DIR"
}

cmd_run_class() {
    [[ $# -ge 1 ]] || die "usage: kafka.sh run-class CLASS [ARGS...]"
    fetch_jars
    local conf="$CACHE_DIR/config"
    [[ -f $conf/tools-log4j2.properties ]] || write_logging_configs "$conf"
    # shellcheck disable=SC2046
    exec java "${TOOL_JVM_OPTS[@]}" $(logging_opts "$conf" tools) -cp "$LIBS/*" "$@"
}

# --- multi-broker cluster (--brokers N) ------------------------------------------------------------
#
# N brokers (node ids 1…N, `broker.rack` rack-a, rack-b, …) and one KRaft controller (node id 100),
# each its own JVM, PLAINTEXT only, on KAFKA_CLUSTER_PORT (controller) and KAFKA_CLUSTER_PORT + n
# (broker n). Topics are replicated 3× with min.insync.replicas=2, and the brokers pick a follower in
# the client's rack for fetches (KIP-392). Every broker logs each request it completes (header,
# request and response summaries, no record data) to logs/kafka-request.log in its node directory
# (rolled over to kafka-request.log.1 at 100 MB), so tests can see which broker served which
# client. Layout: target/kafka-run/<version>-cluster/{controller,broker-1,…}/{config,data,logs},
# each node directory the same shape as the single broker's run directory.

CLUSTER_PORT=${KAFKA_CLUSTER_PORT:-19290}
CLUSTER_DIR="$ROOT/target/kafka-run/$KAFKA_VERSION-cluster"
CLUSTER_HEAP_OPTS=${KAFKA_CLUSTER_HEAP_OPTS:--Xmx512m -Xms128m}
CLUSTER_CONTROLLER_HEAP_OPTS=${KAFKA_CLUSTER_CONTROLLER_HEAP_OPTS:--Xmx256m -Xms64m}
CLUSTER_CONTROLLER_ID=100
CLUSTER_REGISTRY_FILE="$REGISTRY_DIR/cluster-$CLUSTER_PORT"
RACKS=(rack-a rack-b rack-c rack-d rack-e rack-f rack-g rack-h rack-i)
# Set by `--brokers N` (or KAFKA_BROKERS); 1 is the single-node broker above.
BROKERS=${KAFKA_BROKERS:-1}

cluster_broker_port() { echo $((CLUSTER_PORT + $1)); }

# The node directories of a cluster directory: the controller first, then each broker.
cluster_nodes() { # cluster-dir brokers
    echo "$1/controller"
    local n
    for ((n = 1; n <= $2; n++)); do
        echo "$1/broker-$n"
    done
}

cluster_ports() {
    local n ports=("$CLUSTER_PORT")
    for ((n = 1; n <= BROKERS; n++)); do
        ports+=("$(cluster_broker_port "$n")")
    done
    echo "${ports[*]}"
}

cluster_bootstrap() {
    local n out=()
    for ((n = 1; n <= BROKERS; n++)); do
        out+=("$HOST:$(cluster_broker_port "$n")")
    done
    (IFS=,; echo "${out[*]}")
}

check_brokers_arg() {
    [[ $BROKERS =~ ^[0-9]+$ ]] || die "--brokers takes a number, got '$BROKERS'"
    if ((BROKERS != 1 && (BROKERS < 3 || BROKERS > ${#RACKS[@]}))); then
        die "--brokers must be 1 (the single broker) or 3…${#RACKS[@]} (a cluster: topics have 3 replicas), got $BROKERS"
    fi
}

# Replication settings for every node of the cluster: in KRaft the controller applies the defaults of
# CreateTopics (replication factor, min.insync.replicas), the brokers those of internal topics.
cluster_replication_properties() {
    cat <<'EOF'
# Three replicas, two of them in sync for acks=all, as on a production cluster.
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
EOF
}

write_cluster_node_properties() { # node-dir node-id
    local dir=$1 id=$2 conf="$1/config"
    mkdir -p "$conf" "$dir/data" "$dir/logs"
    write_logging_configs "$conf"
    # A broker logs every request it completes (of clients and of the other brokers) to a file of
    # its own, at most 100 MB plus one older file.
    if ((id != CLUSTER_CONTROLLER_ID)); then
        cat >>"$conf/broker-log4j2.properties" <<'EOF'
appender.requests.type = RollingFile
appender.requests.name = REQUESTS
appender.requests.fileName = ${sys:kafka.logs.dir}/kafka-request.log
appender.requests.filePattern = ${sys:kafka.logs.dir}/kafka-request.log.%i
appender.requests.layout.type = PatternLayout
appender.requests.layout.pattern = [%d] %m%n
appender.requests.policies.type = Policies
appender.requests.policies.size.type = SizeBasedTriggeringPolicy
appender.requests.policies.size.size = 100MB
appender.requests.strategy.type = DefaultRolloverStrategy
appender.requests.strategy.max = 1
logger.request.level = DEBUG
logger.request.additivity = false
logger.request.appenderRef.requests.ref = REQUESTS
EOF
        cat >>"$conf/broker-log4j.properties" <<'EOF'
log4j.appender.requests=org.apache.log4j.RollingFileAppender
log4j.appender.requests.File=${kafka.logs.dir}/kafka-request.log
log4j.appender.requests.MaxFileSize=100MB
log4j.appender.requests.MaxBackupIndex=1
log4j.appender.requests.layout=org.apache.log4j.PatternLayout
log4j.appender.requests.layout.ConversionPattern=[%d] %m%n
log4j.logger.kafka.request.logger=DEBUG, requests
log4j.additivity.kafka.request.logger=false
EOF
    fi
    {
        echo "# Generated by scripts/kafka.sh for Kafka $KAFKA_VERSION: node $id of a $BROKERS-broker test cluster."
        echo "node.id=$id"
        echo "controller.quorum.voters=$CLUSTER_CONTROLLER_ID@$HOST:$CLUSTER_PORT"
        echo "controller.listener.names=CONTROLLER"
        echo "log.dirs=$dir/data"
        cluster_replication_properties
        if ((id == CLUSTER_CONTROLLER_ID)); then
            cat <<EOF
process.roles=controller
listeners=CONTROLLER://$HOST:$CLUSTER_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT
# A killed broker is fenced, and its partitions led by others, 6 s after its last heartbeat.
broker.session.timeout.ms=6000
# A restarted broker gets its preferred leaderships back soon: one more leader change for clients.
leader.imbalance.check.interval.seconds=10
EOF
        else
            local port
            port=$(cluster_broker_port "$id")
            cat <<EOF
process.roles=broker
broker.rack=${RACKS[id - 1]}
listeners=PLAINTEXT://$HOST:$port
advertised.listeners=PLAINTEXT://$HOST:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
broker.heartbeat.interval.ms=1000
# Fetches from a consumer with client.rack go to a replica in its rack (KIP-392).
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
log.retention.check.interval.ms=30000
log.retention.ms=-1
EOF
        fi
    } >"$conf/server.properties.tmp"
    mv "$conf/server.properties.tmp" "$conf/server.properties"
}

# The cluster directory whose nodes serve these ports: ours, or a same-version cluster of another
# checkout (the registry), whichever has a node running.
cluster_any_running() { # cluster-dir
    local node
    [[ -f $1/brokers ]] || return 1
    while read -r node; do
        running_pid_of "$node" >/dev/null && return 0
    done < <(cluster_nodes "$1" "$(cat "$1/brokers")")
    return 1
}

active_cluster_dir() {
    if cluster_any_running "$CLUSTER_DIR"; then
        echo "$CLUSTER_DIR"
        return 0
    fi
    local owner
    owner=$(cat "$CLUSTER_REGISTRY_FILE" 2>/dev/null) || return 1
    [[ -n $owner && -d $owner ]] || return 1
    cluster_any_running "$owner" || return 1
    echo "$owner"
}

# The cluster directory kill-broker, start-broker, status and env act on: the running one, else
# this checkout's.
cluster_dir_in_use() {
    active_cluster_dir || echo "$CLUSTER_DIR"
}

cluster_format() { # cluster-dir
    local dir=$1 cluster_id node class
    if [[ ! -f $dir/cluster.id ]]; then
        random_cluster_id >"$dir/cluster.id"
    fi
    cluster_id=$(cat "$dir/cluster.id")
    class=$(tool_class storage)
    local -a pids=()
    while read -r node; do
        [[ -f $node/data/meta.properties ]] && continue
        log "formatting the KRaft storage in $node/data (cluster id $cluster_id)"
        # shellcheck disable=SC2046
        java "${TOOL_JVM_OPTS[@]}" $(logging_opts "$node/config" tools) -cp "$LIBS/*" "$class" \
            format -t "$cluster_id" -c "$node/config/server.properties" \
            >"$node/logs/format.log" 2>&1 &
        pids+=($!)
    done < <(cluster_nodes "$dir" "$BROKERS")
    local pid failed=0
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    if ((failed)); then
        cat "$dir"/*/logs/format.log >&2
        die "formatting the cluster's storage failed"
    fi
}

# Starts one node of a cluster directory in the background; prints its pid.
cluster_start_node() { # node-dir
    local node=$1 heap libs pid i
    libs=$(cat "$(dirname "$node")/libs")
    if [[ $(basename "$node") == controller ]]; then heap=$CLUSTER_CONTROLLER_HEAP_OPTS; else heap=$CLUSTER_HEAP_OPTS; fi
    # shellcheck disable=SC2046,SC2086
    setsid java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        $(logging_opts "$node/config" broker) -Dkafka.logs.dir="$node/logs" \
        -cp "$libs/*" kafka.Kafka "$node/config/server.properties" \
        >>"$node/logs/server.log" 2>&1 </dev/null 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$node/kafka.pid"
    for ((i = 0; i < 100; i++)); do
        is_our_broker "$pid" "$node" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$pid"
}

# Waits until broker n of the cluster directory answers Metadata listing itself, or the controller
# accepts connections.
cluster_wait_node() { # cluster-dir node-dir pid
    local dir=$1 node=$2 pid=$3 deadline=$((SECONDS + START_TIMEOUT)) name id port out
    name=$(basename "$node")
    while :; do
        if ! is_our_broker "$pid" "$node"; then
            tail -n 60 "$node/logs/server.log" >&2 || true
            die "$name (pid $pid) exited during start-up (log: $node/logs/server.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 60 "$node/logs/server.log" >&2 || true
            die "$name did not answer within ${START_TIMEOUT}s (log: $node/logs/server.log)"
        fi
        if [[ $name == controller ]]; then
            port_open "$(cat "$dir/port")" && return 0
        else
            id=${name#broker-}
            port=$(($(cat "$dir/port") + id))
            if port_open "$port" && out=$(kcat_metadata "$HOST:$port") && grep -q "broker $id at" <<<"$out"; then
                return 0
            fi
        fi
        sleep 0.5
    done
}

# Waits until metadata from every broker lists all of them.
cluster_wait_all() { # cluster-dir
    local dir=$1 brokers port n m out deadline=$((SECONDS + START_TIMEOUT))
    brokers=$(cat "$dir/brokers")
    port=$(cat "$dir/port")
    for ((n = 1; n <= brokers; n++)); do
        while :; do
            local all=1
            if out=$(kcat_metadata "$HOST:$((port + n))"); then
                for ((m = 1; m <= brokers; m++)); do
                    grep -q "broker $m at" <<<"$out" || all=0
                done
            else
                all=0
            fi
            ((all)) && break
            ((SECONDS < deadline)) || die "broker $n does not list all $brokers brokers within ${START_TIMEOUT}s"
            sleep 0.5
        done
    done
}

cmd_cluster_start() {
    mkdir -p "$CLUSTER_DIR" "$REGISTRY_DIR"
    exec 9>"$CLUSTER_DIR/.lock"
    flock 9
    ensure_command kcat kcat
    ensure_command openssl openssl
    local owner
    if ! cluster_any_running "$CLUSTER_DIR" && owner=$(active_cluster_dir); then
        if [[ $owner != "$CLUSTER_DIR" ]]; then
            if [[ $(cat "$owner/version" 2>/dev/null) == "$KAFKA_VERSION" && $(cat "$owner/brokers" 2>/dev/null) == "$BROKERS" ]]; then
                log "reusing the $BROKERS-broker Kafka $KAFKA_VERSION cluster of $owner"
                return 0
            fi
            die "a Kafka $(cat "$owner/version" 2>/dev/null) cluster of $(cat "$owner/brokers" 2>/dev/null) brokers from $owner runs on these ports; stop it first: KAFKA_VERSION=$(cat "$owner/version" 2>/dev/null) $(cat "$owner/harness" 2>/dev/null || echo scripts/kafka.sh) stop --brokers $(cat "$owner/brokers" 2>/dev/null)"
        fi
    fi
    if cluster_any_running "$CLUSTER_DIR" && [[ $(cat "$CLUSTER_DIR/brokers") != "$BROKERS" ]]; then
        die "this checkout's cluster runs with $(cat "$CLUSTER_DIR/brokers") brokers; stop it first: $SELF stop --brokers $(cat "$CLUSTER_DIR/brokers")"
    fi
    fetch_jars
    echo "$KAFKA_VERSION" >"$CLUSTER_DIR/version"
    echo "$BROKERS" >"$CLUSTER_DIR/brokers"
    echo "$CLUSTER_PORT" >"$CLUSTER_DIR/port"
    echo "$LIBS" >"$CLUSTER_DIR/libs"
    echo "$SELF" >"$CLUSTER_DIR/harness"
    local node id pid started=$SECONDS
    local -a to_wait=()
    while read -r node; do
        if pid=$(running_pid_of "$node"); then
            to_wait+=("$node" "$pid")
            continue
        fi
        if [[ $(basename "$node") == controller ]]; then
            id=$CLUSTER_CONTROLLER_ID
            port_open "$CLUSTER_PORT" && die "port $CLUSTER_PORT is in use; choose another KAFKA_CLUSTER_PORT"
        else
            id=${node##*-}
            port_open "$(cluster_broker_port "$id")" &&
                die "port $(cluster_broker_port "$id") is in use; choose another KAFKA_CLUSTER_PORT"
        fi
        write_cluster_node_properties "$node" "$id"
    done < <(cluster_nodes "$CLUSTER_DIR" "$BROKERS")
    cluster_format "$CLUSTER_DIR"
    log "starting a $BROKERS-broker Kafka $KAFKA_VERSION cluster on $HOST ports $(cluster_ports)"
    echo "$CLUSTER_DIR" >"$CLUSTER_REGISTRY_FILE"
    while read -r node; do
        running_pid_of "$node" >/dev/null && continue
        pid=$(cluster_start_node "$node")
        to_wait+=("$node" "$pid")
    done < <(cluster_nodes "$CLUSTER_DIR" "$BROKERS")
    local i
    for ((i = 0; i < ${#to_wait[@]}; i += 2)); do
        cluster_wait_node "$CLUSTER_DIR" "${to_wait[i]}" "${to_wait[i + 1]}"
    done
    cluster_wait_all "$CLUSTER_DIR"
    cluster_env_lines "$CLUSTER_DIR" >"$CLUSTER_DIR/harness.env"
    log "the $BROKERS-broker cluster is up ($((SECONDS - started))s); eval \"\$($SELF env --brokers $BROKERS)\" for the tests"
}

cluster_stop_pids() { # node-dir pid ...: SIGTERM all at once, SIGKILL what is left after 30 s
    local -a pairs=("$@")
    local i j
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
        kill -TERM "${pairs[i + 1]}" 2>/dev/null || true
    done
    for ((j = 0; j < 300; j++)); do
        local alive=0
        for ((i = 0; i < ${#pairs[@]}; i += 2)); do
            is_our_broker "${pairs[i + 1]}" "${pairs[i]}" && alive=1
        done
        ((alive)) || return 0
        sleep 0.1
    done
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
        if is_our_broker "${pairs[i + 1]}" "${pairs[i]}"; then
            log "$(basename "${pairs[i]}") (pid ${pairs[i + 1]}) did not stop within 30s; killing it"
            kill -KILL "${pairs[i + 1]}" 2>/dev/null || true
        fi
    done
    sleep 0.5
}

cmd_cluster_stop() {
    mkdir -p "$CLUSTER_DIR"
    exec 9>"$CLUSTER_DIR/.lock"
    flock 9
    if ! cluster_any_running "$CLUSTER_DIR"; then
        local owner
        if owner=$(active_cluster_dir); then
            log "no cluster of this checkout runs; the one on these ports belongs to $owner and is left alone"
        else
            log "no Kafka $KAFKA_VERSION cluster is running"
        fi
        return 0
    fi
    local node pid brokers
    brokers=$(cat "$CLUSTER_DIR/brokers")
    local -a pairs=()
    # Brokers first (a controlled shutdown needs the controller), then the controller.
    while read -r node; do
        [[ $(basename "$node") == controller ]] && continue
        if pid=$(running_pid_of "$node"); then pairs+=("$node" "$pid"); fi
    done < <(cluster_nodes "$CLUSTER_DIR" "$brokers")
    ((${#pairs[@]})) && cluster_stop_pids "${pairs[@]}"
    if pid=$(running_pid_of "$CLUSTER_DIR/controller"); then
        cluster_stop_pids "$CLUSTER_DIR/controller" "$pid"
    fi
    rm -f "$CLUSTER_DIR"/*/kafka.pid
    if [[ $(cat "$CLUSTER_REGISTRY_FILE" 2>/dev/null) == "$CLUSTER_DIR" ]]; then
        rm -f "$CLUSTER_REGISTRY_FILE"
    fi
    log "stopped the $brokers-broker Kafka $KAFKA_VERSION cluster"
}

cmd_cluster_status() {
    local dir node pid brokers running=0 total=0
    dir=$(cluster_dir_in_use)
    brokers=$(cat "$dir/brokers" 2>/dev/null || echo "$BROKERS")
    while read -r node; do
        total=$((total + 1))
        if pid=$(running_pid_of "$node"); then
            running=$((running + 1))
            echo "  $(basename "$node"): running, pid $pid"
        else
            echo "  $(basename "$node"): stopped"
        fi
    done < <(cluster_nodes "$dir" "$brokers")
    if ((running == total)); then
        echo "running: $brokers-broker Kafka $(cat "$dir/version" 2>/dev/null) cluster, $dir"
        return 0
    fi
    echo "stopped: $running of $total nodes of the $brokers-broker cluster run ($dir)"
    return 3
}

cluster_env_lines() { # cluster-dir
    local dir=$1 brokers port n racks=()
    brokers=$(cat "$dir/brokers" 2>/dev/null || echo "$BROKERS")
    port=$(cat "$dir/port" 2>/dev/null || echo "$CLUSTER_PORT")
    local bootstrap=()
    for ((n = 1; n <= brokers; n++)); do
        bootstrap+=("$HOST:$((port + n))")
        racks+=("$n=${RACKS[n - 1]}")
    done
    local -a vars=(
        KAFKA_CLUSTER_VERSION "$(cat "$dir/version" 2>/dev/null || echo "$KAFKA_VERSION")"
        KAFKA_CLUSTER_BOOTSTRAP "$(IFS=,; echo "${bootstrap[*]}")"
        KAFKA_CLUSTER_BROKERS "$brokers"
        KAFKA_CLUSTER_RACKS "${racks[*]}"
        KAFKA_CLUSTER_PORT "$port"
        KAFKA_CLUSTER_RUN_DIR "$dir"
        KAFKA_CLUSTER_HARNESS "$(cat "$dir/harness" 2>/dev/null || echo "$SELF")"
    )
    local i
    for ((i = 0; i < ${#vars[@]}; i += 2)); do
        printf 'export %s=%q\n' "${vars[i]}" "${vars[i + 1]}"
    done
}

cmd_cluster_env() {
    local dir
    if dir=$(active_cluster_dir); then
        cluster_env_lines "$dir"
    else
        log "note: no $BROKERS-broker cluster is running; start it with: $SELF start --brokers $BROKERS"
        cluster_env_lines "$CLUSTER_DIR"
    fi
}

cluster_broker_node() { # n: the node directory of broker n of the cluster in use
    local dir=$1 n=$2 brokers
    [[ $n =~ ^[0-9]+$ ]] || die "a broker is named by its node id (1…), got '$n'"
    brokers=$(cat "$dir/brokers" 2>/dev/null) || die "no cluster in $dir; start it with: $SELF start --brokers 3"
    ((n >= 1 && n <= brokers)) || die "the cluster has brokers 1…$brokers, not $n"
    echo "$dir/broker-$n"
}

cmd_kill_broker() {
    [[ $# -eq 1 ]] || die "usage: kafka.sh kill-broker N"
    local dir node pid i
    dir=$(cluster_dir_in_use)
    node=$(cluster_broker_node "$dir" "$1")
    if ! pid=$(running_pid_of "$node"); then
        log "broker $1 is not running"
        return 0
    fi
    kill -KILL "$pid"
    for ((i = 0; i < 100; i++)); do
        is_our_broker "$pid" "$node" || break
        sleep 0.05
    done
    is_our_broker "$pid" "$node" && die "broker $1 (pid $pid) survived SIGKILL"
    rm -f "$node/kafka.pid"
    log "killed broker $1 (pid $pid)"
}

cmd_start_broker() {
    [[ $# -eq 1 ]] || die "usage: kafka.sh start-broker N"
    local dir node pid started=$SECONDS
    dir=$(cluster_dir_in_use)
    node=$(cluster_broker_node "$dir" "$1")
    exec 9>"$dir/.lock"
    flock 9
    if ! pid=$(running_pid_of "$node"); then
        [[ -f $node/config/server.properties ]] || die "broker $1 was never started; start the cluster: $SELF start --brokers 3"
        pid=$(cluster_start_node "$node")
    fi
    cluster_wait_node "$dir" "$node" "$pid"
    log "broker $1 is up (pid $pid, $((SECONDS - started))s)"
}

cmd_cluster_logs() {
    local dir node
    dir=$(cluster_dir_in_use)
    while read -r node; do
        echo "----- $node/logs/server.log -----"
        tail -n "${1:-40}" "$node/logs/server.log" 2>/dev/null || true
    done < <(cluster_nodes "$dir" "$(cat "$dir/brokers" 2>/dev/null || echo "$BROKERS")")
}

cmd_cluster_reset() {
    cmd_cluster_stop
    rm -rf "$CLUSTER_DIR"
    log "removed $CLUSTER_DIR"
}

usage() {
    sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    echo "Tools: $(printf '%s\n' "${!TOOLS[@]}" | sort | tr '\n' ' ')" >&2
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
    start | stop | status | env | reset | logs)
        # `--brokers N` (anywhere after the command) chooses the cluster.
        local -a rest=()
        while [[ $# -gt 0 ]]; do
            case $1 in
            --brokers)
                [[ $# -ge 2 ]] || die "--brokers needs a number"
                BROKERS=$2
                shift 2
                ;;
            --brokers=*)
                BROKERS=${1#--brokers=}
                shift
                ;;
            *)
                rest+=("$1")
                shift
                ;;
            esac
        done
        set -- "${rest[@]}"
        check_brokers_arg
        if ((BROKERS > 1)); then
            case $cmd in
            start) cmd_cluster_start ;;
            stop) cmd_cluster_stop ;;
            status) cmd_cluster_status ;;
            env) cmd_cluster_env ;;
            reset) cmd_cluster_reset ;;
            logs) cmd_cluster_logs "$@" ;;
            esac
            return
        fi
        ;;
    esac
    case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    reset) cmd_reset ;;
    kill-broker) cmd_kill_broker "$@" ;;
    start-broker) cmd_start_broker "$@" ;;
    fetch) fetch_jars ;;
    logs) tail -n "${1:-100}" "$RUN_DIR/logs/server.log" ;;
    class)
        [[ $# -eq 1 ]] || die "usage: kafka.sh class TOOL"
        tool_class "$1"
        ;;
    run-class) cmd_run_class "$@" ;;
    -h | --help | help | "") usage ;;
    *)
        if [[ -n ${TOOLS[$cmd]:-} ]]; then
            local class
            class=$(tool_class "$cmd")
            cmd_run_class "$class" "$@"
        else
            usage
            die "unknown command '$cmd'"
        fi
        ;;
    esac
}

main "$@"
