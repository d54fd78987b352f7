// Writes Confluent-framed Avro records the way Confluent's KafkaAvroSerializer frames them:
// magic byte 0, the schema id as a 4-byte big-endian integer, then the record encoded by
// org.apache.avro's GenericDatumWriter with a BinaryEncoder. See README.md beside the output.
//
//   java -cp <avro-1.12.0.jar and its dependencies> MakeConfluentAvro.java <output dir>

import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.avro.Conversions;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;

public class MakeConfluentAvro {
    static final int SCHEMA_ID = 7;

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        Schema schema = new Schema.Parser().parse(Files.readString(out.resolve("orders.avsc")));
        Schema amountSchema = schema.getField("amount").schema();
        Conversions.DecimalConversion decimals = new Conversions.DecimalConversion();

        GenericRecord first = new GenericData.Record(schema);
        first.put("id", 1001L);
        first.put("customer", "Zoë");
        first.put("amount", decimals.toBytes(new BigDecimal("1234.50"), amountSchema,
                LogicalTypes.decimal(10, 2)));
        first.put("created", 1700000000123L);
        first.put("status", new GenericData.EnumSymbol(schema.getField("status").schema(), "SHIPPED"));
        first.put("tags", List.of("gift", "express"));
        first.put("note", null);
        first.put("qty", 3);

        GenericRecord second = new GenericData.Record(schema);
        second.put("id", -7L);
        second.put("customer", "");
        second.put("amount", decimals.toBytes(new BigDecimal("-0.05"), amountSchema,
                LogicalTypes.decimal(10, 2)));
        second.put("created", 0L);
        second.put("status", new GenericData.EnumSymbol(schema.getField("status").schema(), "NEW"));
        second.put("tags", List.of());
        second.put("note", "leave at door");
        second.put("qty", 2147483647);

        Files.write(out.resolve("orders-1.confluent-avro"), frame(schema, first));
        Files.write(out.resolve("orders-2.confluent-avro"), frame(schema, second));
    }

    static byte[] frame(Schema schema, GenericRecord record) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write(0);
        bytes.write(ByteBuffer.allocate(4).putInt(SCHEMA_ID).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return bytes.toByteArray();
    }
}
