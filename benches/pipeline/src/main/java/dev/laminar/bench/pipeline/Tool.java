package dev.laminar.bench.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The harness's helpers around the measured processes (none of them is measured):
 *
 * <ul>
 *   <li>{@code prefill BOOTSTRAP INPUT OUTPUT PARTITIONS RECORDS}: creates both topics and writes
 *       RECORDS generated events to INPUT (partition i % PARTITIONS); prints {@code EXPECTED
 *       total=… kept=… transaction=… browse=… other=…}.
 *   <li>{@code monitor BOOTSTRAP GROUP TOPIC TARGET TIMEOUT_S}: prints {@code READY}, then polls
 *       GROUP's committed offsets on TOPIC every 20 ms and prints {@code DONE <epoch ms>} once
 *       their sum reaches TARGET (with exactly-once they are committed in the same transaction as
 *       the output; with at-least-once after the output is acknowledged).
 *   <li>{@code verify BOOTSTRAP OUTPUT RECORDS KEPT TRANSACTION BROWSE OTHER MODE}: reads OUTPUT
 *       read_committed and checks it against the input (MODE {@code exact}: every kept event
 *       exactly once; {@code at-least}: every kept event at least once). Exit 1 on a mismatch.
 *   <li>{@code delete BOOTSTRAP TOPIC...}: deletes topics.
 * </ul>
 */
public final class Tool {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Event types in the order the generator cycles through them (null: a filtered-out event). */
    static final String[] TYPES = {
        "purchase_item", "view_page", "click", "view_item", null,
        "purchase_gift", "search", "view_cart", "purchase_item", "logout",
    };
    static final long BASE_EPOCH_S = Instant.parse("2024-05-01T10:00:00Z").getEpochSecond();

    private Tool() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "prefill" -> prefill(args);
            case "monitor" -> monitor(args);
            case "verify" -> verify(args);
            case "delete" -> delete(args);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: Tool prefill|monitor|verify|delete ARGS... (see the class comment)");
        System.exit(2);
    }

    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(p);
    }

    /** The generated event number i, as JSON (about 130 bytes). */
    static String event(long i) {
        String type = TYPES[(int) (i % TYPES.length)];
        double score = (i % 100) / 10.0 + 0.5;
        return "{\"event_id\": " + i
                + ", \"user_id\": \"u" + (i % 10_000) + "\""
                + ", \"event_type\": " + (type == null ? "null" : "\"" + type + "\"")
                + ", \"payload\": {\"score\": " + score + "}"
                + ", \"timestamp\": \"" + Instant.ofEpochSecond(BASE_EPOCH_S + i % 86_400) + "\"}";
    }

    static String category(String type) {
        return type.startsWith("purchase") ? "transaction" : type.startsWith("view") ? "browse" : "other";
    }

    private static void prefill(String[] args) throws Exception {
        String bootstrap = args[1], input = args[2], output = args[3];
        int partitions = Integer.parseInt(args[4]);
        long records = Long.parseLong(args[5]);
        try (Admin admin = admin(bootstrap)) {
            for (String topic : List.of(input, output)) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            // Wait until both topics have leaders everywhere.
            for (int attempt = 0; ; attempt++) {
                Map<String, TopicDescription> d;
                try {
                    d = admin.describeTopics(List.of(input, output)).allTopicNames().get();
                } catch (ExecutionException e) {
                    // Just created: not in the metadata yet.
                    d = Map.of();
                }
                boolean ready = d.size() == 2 && d.values().stream().allMatch(t -> t.partitions().size() == partitions
                        && t.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
                if (ready) {
                    break;
                }
                if (attempt > 200) {
                    throw new IllegalStateException("topics have no leaders");
                }
                Thread.sleep(50);
            }
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 128L * 1024 * 1024);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        long kept = 0, transaction = 0, browse = 0, other = 0;
        AtomicReference<Exception> failure = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (long i = 0; i < records; i++) {
                String type = TYPES[(int) (i % TYPES.length)];
                if (type != null) {
                    kept++;
                    switch (category(type)) {
                        case "transaction" -> transaction++;
                        case "browse" -> browse++;
                        default -> other++;
                    }
                }
                byte[] value = event(i).getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(input, (int) (i % partitions), null, value), (m, e) -> {
                    if (e != null) {
                        failure.compareAndSet(null, e);
                    }
                });
                if (failure.get() != null) {
                    break;
                }
            }
            producer.flush();
        }
        if (failure.get() != null) {
            throw failure.get();
        }
        System.out.printf("EXPECTED total=%d kept=%d transaction=%d browse=%d other=%d%n",
                records, kept, transaction, browse, other);
    }

    private static void monitor(String[] args) throws Exception {
        String bootstrap = args[1], group = args[2], topic = args[3];
        long target = Long.parseLong(args[4]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[5]));
        try (Admin admin = admin(bootstrap)) {
            admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
            System.out.println("READY");
            System.out.flush();
            long lastReport = System.nanoTime(), sum = 0;
            while (System.nanoTime() < deadline) {
                try {
                    Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                            .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
                    sum = 0;
                    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
                        if (e.getKey().topic().equals(topic) && e.getValue() != null) {
                            sum += e.getValue().offset();
                        }
                    }
                    if (sum >= target) {
                        System.out.println("DONE " + System.currentTimeMillis());
                        System.out.flush();
                        return;
                    }
                } catch (ExecutionException e) {
                    // The group does not exist yet: keep polling.
                }
                if (System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(5)) {
                    System.err.printf("monitor: %s committed %d of %d%n", group, sum, target);
                    lastReport = System.nanoTime();
                }
                Thread.sleep(20);
            }
            System.out.println("TIMEOUT committed " + sum + " of " + target);
            System.exit(1);
        }
    }

    private static void verify(String[] args) throws Exception {
        String bootstrap = args[1], output = args[2];
        long records = Long.parseLong(args[3]), kept = Long.parseLong(args[4]);
        long[] expected = {Long.parseLong(args[5]), Long.parseLong(args[6]), Long.parseLong(args[7])};
        boolean exact = args[8].equals("exact");

        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        BitSet seen = new BitSet();
        long total = 0, duplicates = 0, unexpected = 0, wrongCategory = 0, wrongKey = 0, wrongScore = 0;
        long[] categories = new long[3];
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            consumer.partitionsFor(output).forEach(i -> parts.add(new TopicPartition(output, i.partition())));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            long idle = System.nanoTime();
            while (true) {
                boolean caughtUp = true;
                for (TopicPartition tp : parts) {
                    if (consumer.position(tp) < end.get(tp)) {
                        caughtUp = false;
                    }
                }
                if (caughtUp) {
                    break;
                }
                if (System.nanoTime() - idle > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException("no progress reading " + output + " for 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    idle = System.nanoTime();
                    total++;
                    JsonNode v = JSON.readTree(r.value());
                    long id = v.get("event_id").asLong();
                    if (id < 0 || id >= records || TYPES[(int) (id % TYPES.length)] == null) {
                        unexpected++;
                        continue;
                    }
                    if (seen.get((int) id)) {
                        duplicates++;
                    }
                    seen.set((int) id);
                    String want = category(TYPES[(int) (id % TYPES.length)]);
                    String got = v.path("event_category").asText();
                    if (!want.equals(got)) {
                        wrongCategory++;
                    }
                    categories[got.equals("transaction") ? 0 : got.equals("browse") ? 1 : 2]++;
                    String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    if (!("u" + (id % 10_000)).equals(key) || !("u" + (id % 10_000)).equals(v.path("user_id").asText())) {
                        wrongKey++;
                    }
                    if (Math.abs(v.path("score").asDouble(-1) - ((id % 100) / 10.0 + 0.5)) > 1e-9) {
                        wrongScore++;
                    }
                }
            }
        }
        long distinct = seen.cardinality();
        long missing = kept - distinct;
        boolean ok = missing == 0 && unexpected == 0 && wrongCategory == 0 && wrongKey == 0 && wrongScore == 0
                && (!exact || duplicates == 0);
        if (exact && ok) {
            ok = categories[0] == expected[0] && categories[1] == expected[1] && categories[2] == expected[2];
        }
        System.out.printf("VERIFY %s records=%d distinct=%d missing=%d duplicates=%d unexpected=%d "
                        + "wrong_category=%d wrong_key=%d wrong_score=%d transaction=%d browse=%d other=%d%n",
                ok ? "ok" : "FAILED", total, distinct, missing, duplicates, unexpected, wrongCategory, wrongKey,
                wrongScore, categories[0], categories[1], categories[2]);
        System.exit(ok ? 0 : 1);
    }

    private static void delete(String[] args) throws Exception {
        try (Admin admin = admin(args[1])) {
            Set<String> existing = admin.listTopics().names().get();
            List<String> topics = new ArrayList<>();
            for (int i = 2; i < args.length; i++) {
                if (existing.contains(args[i])) {
                    topics.add(args[i]);
                }
            }
            if (!topics.isEmpty()) {
                admin.deleteTopics(topics).all().get();
            }
        }
    }
}
