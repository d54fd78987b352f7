// A transactional producer written with the Java client, for interop tests: runs one
// transaction per argument group and commits or aborts it.
//
// Usage: TxnProducer BOOTSTRAP TOPIC TRANSACTIONAL_ID (commit|abort):PREFIX:COUNT ...
// Each record's value is PREFIX-i; records have no key and go to partition 0.
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public final class TxnProducer {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("transactional.id", args[2]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            producer.initTransactions();
            for (int a = 3; a < args.length; a++) {
                String[] spec = args[a].split(":");
                producer.beginTransaction();
                int count = Integer.parseInt(spec[2]);
                for (int i = 0; i < count; i++) {
                    producer.send(new ProducerRecord<>(args[1], 0, null, spec[1] + "-" + i));
                }
                producer.flush();
                if (spec[0].equals("commit")) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
            }
        }
        System.out.println("done");
    }
}
