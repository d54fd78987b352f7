// Reads the batches our encoder wrote (laminar-*.bin) with the Apache Kafka Java client's
// MemoryRecords, validates each batch's CRC and checks every record against the rule
// WriteVectors.java writes by. Exits non-zero on the first difference.
//
//   javac -cp 'kc/*' -d out WriteVectors.java ReadVectors.java
//   java -cp 'kc/*:out' ReadVectors <dir with laminar-*.bin>

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;

public class ReadVectors {
    static byte[] bytes(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    public static void main(String[] args) throws Exception {
        String[][] files = {
            {"laminar-none.bin", "NONE"}, {"laminar-gzip.bin", "GZIP"},
            {"laminar-snappy.bin", "SNAPPY"}, {"laminar-lz4.bin", "LZ4"},
            {"laminar-zstd.bin", "ZSTD"},
        };
        for (String[] f : files) {
            byte[] data = Files.readAllBytes(Path.of(args[0], f[0]));
            MemoryRecords records = MemoryRecords.readableRecords(ByteBuffer.wrap(data));
            boolean big = !f[1].equals("NONE");
            int batches = 0;
            for (MutableRecordBatch batch : records.batches()) {
                batch.ensureValid();
                check(batch.compressionType().name().equals(f[1]), f[0] + " codec " + batch.compressionType());
                check(batch.lastOffset() == WriteVectors.RECORDS - 1, f[0] + " last offset");
                int i = 0;
                for (Record r : batch) {
                    r.ensureValid();
                    check(r.offset() == i, f[0] + " offset " + i);
                    check(r.timestamp() == WriteVectors.timestamp(i), f[0] + " timestamp " + i);
                    check(Arrays.equals(bytes(r.key()), WriteVectors.key(i)), f[0] + " key " + i);
                    check(Arrays.equals(bytes(r.value()), WriteVectors.value(i, big)), f[0] + " value " + i);
                    Header[] want = WriteVectors.headers(i);
                    Header[] got = r.headers();
                    check(got.length == want.length, f[0] + " header count " + i);
                    for (int h = 0; h < got.length; h++) {
                        check(got[h].key().equals(want[h].key()), f[0] + " header key " + i);
                        check(Arrays.equals(got[h].value(), want[h].value()), f[0] + " header value " + i);
                    }
                    i++;
                }
                check(i == WriteVectors.RECORDS, f[0] + " record count " + i);
                batches++;
            }
            check(batches == 1, f[0] + " batches " + batches);
            System.out.println(f[0] + ": OK (" + data.length + " bytes, " + f[1] + ")");
        }
    }
}
