package dev.laminar.bench.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The reference page's "Event Stream Processing" pipeline as a Kafka Streams application:
 *
 * <pre>
 * SELECT event_id, user_id,
 *        CASE WHEN event_type LIKE 'purchase%' THEN 'transaction'
 *             WHEN event_type LIKE 'view%' THEN 'browse' ELSE 'other' END AS event_category,
 *        CAST(JSON_VALUE(payload, '$.score') AS DOUBLE) AS score,
 *        NOW() AS processed_at
 * FROM raw_events WHERE event_type IS NOT NULL
 * </pre>
 *
 * written as JSON keyed by user_id. Usage: {@code StreamsApp BOOTSTRAP INPUT OUTPUT APPLICATION_ID
 * GUARANTEE STATE_DIR} with GUARANTEE {@code exactly_once_v2} or {@code at_least_once}. Runs until
 * SIGTERM (a shutdown hook closes the application). Prints {@code STATE <new>} lines on stdout.
 */
public final class StreamsApp {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StreamsApp() {}

    /** The transform of one input value: the output record, or null when the row is filtered out. */
    static KeyValue<String, byte[]> transform(byte[] value) {
        JsonNode in;
        try {
            in = JSON.readTree(value);
        } catch (IOException e) {
            throw new UncheckedIOException("malformed input record", e);
        }
        JsonNode type = in.get("event_type");
        if (type == null || type.isNull()) {
            return null;
        }
        String t = type.asText();
        String category = t.startsWith("purchase") ? "transaction" : t.startsWith("view") ? "browse" : "other";
        JsonNode user = in.get("user_id");
        String userId = user == null || user.isNull() ? null : user.asText();
        JsonNode payload = in.get("payload");
        JsonNode score = payload == null ? null : payload.get("score");

        ObjectNode out = JSON.createObjectNode();
        JsonNode id = in.get("event_id");
        if (id == null || id.isNull()) {
            out.putNull("event_id");
        } else {
            out.put("event_id", id.asLong());
        }
        out.put("user_id", userId);
        out.put("event_category", category);
        if (score == null || score.isNull()) {
            out.putNull("score");
        } else {
            out.put("score", score.asDouble());
        }
        out.put("processed_at", Instant.now().toString());
        try {
            return KeyValue.pair(userId, JSON.writeValueAsBytes(out));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 6) {
            System.err.println("usage: StreamsApp BOOTSTRAP INPUT OUTPUT APPLICATION_ID GUARANTEE STATE_DIR");
            System.exit(2);
        }
        String bootstrap = args[0], input = args[1], output = args[2], appId = args[3], guarantee = args[4];

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        // As often as the other side commits (its default); Streams' own default is 100 ms with
        // exactly_once_v2 and 30 s with at_least_once.
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
        // Optional: more stream threads (default 1), for experiments only.
        String threads = System.getenv("PIPELINE_STREAMS_THREADS");
        if (threads != null && !threads.isEmpty()) {
            props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(threads));
        }

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .flatMap((key, value) -> {
                    KeyValue<String, byte[]> out = transform(value);
                    return out == null ? List.<KeyValue<String, byte[]>>of() : List.of(out);
                })
                .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch stopped = new CountDownLatch(1);
        int[] exitCode = {0};
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            System.out.flush();
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("StreamsApp: fatal: " + e);
            e.printStackTrace();
            exitCode[0] = 1;
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(30));
            stopped.countDown();
        }, "shutdown"));
        streams.start();
        stopped.await();
        if (exitCode[0] != 0) {
            streams.close(Duration.ofSeconds(30));
            System.exit(exitCode[0]);
        }
    }
}
