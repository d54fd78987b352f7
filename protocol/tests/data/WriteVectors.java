// Writes record batches with the Apache Kafka Java client's own MemoryRecords builder, so that the
// Rust codec can be checked against what Java producers and brokers really write.
//
// Build and run (see README.md in this directory):
//   javac -cp 'kc/*' -d out WriteVectors.java && java -cp 'kc/*:out' WriteVectors <output dir>

import java.io.FileOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.RecordBatch;

public class WriteVectors {
    static final long BASE_TS = 1_700_000_000_000L;
    static final int RECORDS = 50;

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // The same rule is written in Rust in tests/java_vectors.rs.
    static long timestamp(int i) {
        return BASE_TS + i * 3L - (i == 5 ? 100 : 0);
    }

    static byte[] key(int i) {
        return i % 7 == 0 ? null : utf8("key-" + i);
    }

    static byte[] value(int i, boolean big) {
        if (big && i == RECORDS - 1) {
            byte[] v = new byte[150_000];
            for (int j = 0; j < v.length; j++) {
                v[j] = (byte) ('a' + (j / 3 + j % 7) % 26);
            }
            return v;
        }
        if (i % 11 == 4) {
            return null;
        }
        return utf8("value-" + i + "-" + "abcdefghij".repeat(i % 5));
    }

    static Header[] headers(int i) {
        switch (i % 3) {
            case 0:
                return new Header[] {
                    new RecordHeader("trace", utf8("id-" + i)),
                    new RecordHeader("dup", utf8("1")),
                    new RecordHeader("dup", (byte[]) null),
                };
            case 1:
                return new Header[0];
            default:
                return new Header[] {new RecordHeader("ключ", utf8("значение"))};
        }
    }

    static void write(String dir, String name, MemoryRecords records) throws Exception {
        ByteBuffer buf = records.buffer();
        byte[] bytes = new byte[buf.remaining()];
        buf.duplicate().get(bytes);
        try (FileOutputStream out = new FileOutputStream(dir + "/" + name)) {
            out.write(bytes);
        }
        System.out.println(name + ": " + bytes.length + " bytes");
    }

    static MemoryRecords plain(Compression compression, boolean big) {
        MemoryRecordsBuilder b = MemoryRecords.builder(
            ByteBuffer.allocate(1024), RecordBatch.CURRENT_MAGIC_VALUE, compression,
            TimestampType.CREATE_TIME, 0L);
        for (int i = 0; i < RECORDS; i++) {
            b.append(timestamp(i), key(i), value(i, big), headers(i));
        }
        return b.build();
    }

    public static void main(String[] args) throws Exception {
        String dir = args[0];
        write(dir, "java-none.bin", plain(Compression.NONE, false));
        write(dir, "java-gzip.bin", plain(Compression.gzip().build(), true));
        write(dir, "java-snappy.bin", plain(Compression.snappy().build(), true));
        write(dir, "java-lz4.bin", plain(Compression.lz4().build(), true));
        write(dir, "java-zstd.bin", plain(Compression.zstd().build(), true));

        // An idempotent, transactional batch as a broker stores it, then its commit marker.
        MemoryRecordsBuilder txn = MemoryRecords.builder(
            ByteBuffer.allocate(1024), RecordBatch.CURRENT_MAGIC_VALUE, Compression.lz4().build(),
            TimestampType.CREATE_TIME, 1000L, RecordBatch.NO_TIMESTAMP, 12345L, (short) 7, 42,
            true, 5);
        for (int i = 0; i < 10; i++) {
            txn.append(timestamp(i), key(i), value(i, false), headers(i));
        }
        write(dir, "java-txn-lz4.bin", txn.build());
        write(dir, "java-commit-marker.bin", MemoryRecords.withEndTransactionMarker(
            1010L, BASE_TS + 500, 5, 12345L, (short) 7,
            new EndTransactionMarker(ControlRecordType.COMMIT, 3)));

        // Log-append time: every record reads the batch's max timestamp.
        MemoryRecordsBuilder lat = MemoryRecords.builder(
            ByteBuffer.allocate(1024), RecordBatch.CURRENT_MAGIC_VALUE, Compression.zstd().build(),
            TimestampType.LOG_APPEND_TIME, 77L, BASE_TS + 9_999);
        for (int i = 0; i < 10; i++) {
            lat.append(timestamp(i), key(i), value(i, false), headers(i));
        }
        write(dir, "java-log-append-time-zstd.bin", lat.build());
    }
}
