#!/usr/bin/env bash
# The compose broker with SASL/SCRAM-SHA-512 on its client listener (apache/kafka image):
# 1. on the first start, format the KRaft log dir with the SCRAM logins of the broker itself
#    (inter-broker) and of finsent's clients: KRaft keeps SCRAM credentials in its metadata log, so
#    the first ones are bootstrapped at format time (KIP-900; `kafka-configs.sh --alter
#    --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users` adds more later);
# 2. write the broker's own JAAS login and a client config for the healthcheck (mode 600);
# 3. hand over to the image's start script, which finds the storage formatted and starts Kafka.
set -euo pipefail
: "${KAFKA_LOG_DIRS:?}" "${CLUSTER_ID:?}" "${KAFKA_BROKER_PASSWORD:?}"
: "${FINSENT_KAFKA_SASL_USERNAME:?}" "${FINSENT_KAFKA_SASL_PASSWORD:?}"
broker_user="${KAFKA_BROKER_USER:-broker}"
for value in "$broker_user" "$KAFKA_BROKER_PASSWORD" "$FINSENT_KAFKA_SASL_USERNAME" "$FINSENT_KAFKA_SASL_PASSWORD"; do
    case "$value" in
        *[\"\\,=\]\[[:space:]]*) echo "Kafka user names and passwords may not contain quotes, \\ , = [ ] or spaces" >&2; exit 64 ;;
    esac
done

umask 077
config=/opt/kafka/config
login="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$broker_user\" password=\"$KAFKA_BROKER_PASSWORD\";"
printf 'KafkaServer {\n  %s\n};\n' "$login" > "$config/finsent-jaas.conf"
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=%s\n' "$login" \
    > "$config/finsent-client.properties"
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=$config/finsent-jaas.conf"

if [[ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]]; then
    format="$(mktemp)"
    cat > "$format" <<PROPERTIES
process.roles=$KAFKA_PROCESS_ROLES
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM_VOTERS
controller.listener.names=$KAFKA_CONTROLLER_LISTENER_NAMES
listeners=$KAFKA_LISTENERS
advertised.listeners=$KAFKA_ADVERTISED_LISTENERS
listener.security.protocol.map=$KAFKA_LISTENER_SECURITY_PROTOCOL_MAP
inter.broker.listener.name=$KAFKA_INTER_BROKER_LISTENER_NAME
sasl.enabled.mechanisms=$KAFKA_SASL_ENABLED_MECHANISMS
sasl.mechanism.inter.broker.protocol=$KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL
log.dirs=$KAFKA_LOG_DIRS
PROPERTIES
    /opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" --config "$format" \
        --add-scram "SCRAM-SHA-512=[name=$broker_user,password=$KAFKA_BROKER_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=$FINSENT_KAFKA_SASL_USERNAME,password=$FINSENT_KAFKA_SASL_PASSWORD]"
    rm -f "$format"
fi
exec /etc/kafka/docker/run
