// Known-answer vectors for AWS_MSK_IAM and the MSK OAUTHBEARER token, made with AWS's own Java
// library (software.amazon.msk:aws-msk-iam-auth) and the AWS SDK signer it calls, with fixed
// credentials and a fixed clock. See README.md for how to run it.
//
// The library signs with the current time; this generator takes the same steps with the clock
// fixed:
// - AWS_MSK_IAM: the request AWS4SignedPayloadGenerator.presignRequest builds (GET https://{host}/
//   with the raw query parameter Action=kafka-cluster:Connect), presigned by the SDK's Aws4Signer
//   for service "kafka-cluster" with a fixed signing clock and expiry, then turned into the JSON
//   payload by the library's own (private) AWS4SignedPayloadGenerator.toPayloadBytes.
// - OAUTHBEARER: the steps of IAMOAuthBearerLoginCallbackHandler.generateTokenValue on that
//   presigned request for host kafka.{region}.amazonaws.com: User-Agent appended after signing,
//   the URI as a string, base64url without padding.
//
// Output: one JSON object per line, {"case":..., "kind":..., inputs..., "output":...}.

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.signer.Aws4Signer;
import software.amazon.awssdk.auth.signer.params.Aws4PresignerParams;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.regions.Region;
import software.amazon.msk.auth.iam.internals.AWS4SignedPayloadGenerator;
import software.amazon.msk.auth.iam.internals.AuthenticationRequestParams;

public final class MskIamVectors {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        // The published vector of an independent implementation: no session token, 300 s.
        payload("published-go-vector", "ACCESS_KEY", "SECRET_KEY", null, "us-east-1", "localhost",
                "2021-10-14T13:05:00Z", 300, "laminar-kafka-vectors");
        // The library's own expiry (15 minutes), with and without a session token.
        payload("basic-credentials", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null,
                "us-east-1", "b-1.laminar.abc123.c2.kafka.us-east-1.amazonaws.com",
                "2024-02-29T23:59:59Z", 900, "laminar-kafka/0.1.0");
        payload("session-credentials", "ASIAEXAMPLEKEY000001", "secret/with+special=chars",
                "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLXdlc3QtMiJHMEUCIQD+token/with+slash=",
                "eu-west-1", "b-2.laminar.xyz789.c3.kafka.eu-west-1.amazonaws.com",
                "2023-06-01T08:00:00Z", 900, "laminar-kafka/0.1.0");
        token("token-basic-credentials", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null,
                "us-east-1", "2024-02-29T23:59:59Z", "laminar-kafka/0.1.0");
        token("token-session-credentials", "ASIAEXAMPLEKEY000001", "secret/with+special=chars",
                "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLXdlc3QtMiJHMEUCIQD+token/with+slash=",
                "ap-southeast-2", "2023-06-01T08:00:00Z", "laminar-kafka/0.1.0 (rust)");
    }

    private static AwsCredentials credentials(String accessKey, String secretKey, String sessionToken) {
        return sessionToken == null
                ? AwsBasicCredentials.create(accessKey, secretKey)
                : AwsSessionCredentials.create(accessKey, secretKey, sessionToken);
    }

    private static AuthenticationRequestParams params(String host, AwsCredentials credentials,
            String region, String userAgent) throws Exception {
        // The public factory derives the region from the host name (or from EC2 metadata for a
        // host like "localhost"); the private constructor takes it as given.
        Constructor<AuthenticationRequestParams> constructor = AuthenticationRequestParams.class
                .getDeclaredConstructor(String.class, String.class, AwsCredentials.class, Region.class,
                        String.class);
        constructor.setAccessible(true);
        return constructor.newInstance("2020_10_22", host, credentials, Region.of(region), userAgent);
    }

    private static SdkHttpFullRequest presign(AuthenticationRequestParams params, Instant now,
            int expirySeconds) {
        SdkHttpFullRequest request = SdkHttpFullRequest.builder()
                .method(SdkHttpMethod.GET)
                .protocol("https")
                .host(params.getHost())
                .appendRawQueryParameter("Action", "kafka-cluster:Connect")
                .build();
        Aws4PresignerParams signing = Aws4PresignerParams.builder()
                .awsCredentials(params.getAwsCredentials())
                .expirationTime(now.plus(Duration.ofSeconds(expirySeconds)))
                .signingRegion(params.getRegion())
                .signingName(params.getServiceScope())
                .signingClockOverride(Clock.fixed(now, ZoneOffset.UTC))
                .build();
        return Aws4Signer.create().presign(request, signing);
    }

    private static Map<String, Object> inputs(String name, String kind, String accessKey, String secretKey,
            String sessionToken, String region, String host, String time, int expirySeconds, String userAgent) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("case", name);
        line.put("kind", kind);
        line.put("access_key_id", accessKey);
        line.put("secret_access_key", secretKey);
        line.put("session_token", sessionToken);
        line.put("region", region);
        line.put("host", host);
        line.put("time", time);
        line.put("expiry_seconds", expirySeconds);
        line.put("user_agent", userAgent);
        return line;
    }

    private static void payload(String name, String accessKey, String secretKey, String sessionToken,
            String region, String host, String time, int expirySeconds, String userAgent) throws Exception {
        AuthenticationRequestParams params = params(host, credentials(accessKey, secretKey, sessionToken),
                region, userAgent);
        SdkHttpFullRequest presigned = presign(params, Instant.parse(time), expirySeconds);
        Method toPayloadBytes = AWS4SignedPayloadGenerator.class.getDeclaredMethod("toPayloadBytes",
                SdkHttpFullRequest.class, AuthenticationRequestParams.class);
        toPayloadBytes.setAccessible(true);
        byte[] payload = (byte[]) toPayloadBytes.invoke(new AWS4SignedPayloadGenerator(), presigned, params);
        Map<String, Object> line = inputs(name, "aws_msk_iam_payload", accessKey, secretKey, sessionToken,
                region, host, time, expirySeconds, userAgent);
        line.put("output", new String(payload, StandardCharsets.UTF_8));
        System.out.println(JSON.writeValueAsString(line));
    }

    private static void token(String name, String accessKey, String secretKey, String sessionToken,
            String region, String time, String userAgent) throws Exception {
        String host = String.format("kafka.%s.amazonaws.com", region);
        AuthenticationRequestParams params = params(host, credentials(accessKey, secretKey, sessionToken),
                region, userAgent);
        SdkHttpFullRequest presigned = presign(params, Instant.parse(time), 900);
        String url = presigned.toBuilder().appendRawQueryParameter("User-Agent", userAgent).build()
                .getUri().toString();
        String token = Base64.getUrlEncoder().withoutPadding()
                .encodeToString(url.getBytes(StandardCharsets.UTF_8));
        Map<String, Object> line = inputs(name, "oauthbearer_token", accessKey, secretKey, sessionToken,
                region, host, time, 900, userAgent);
        line.put("url", url);
        line.put("output", token);
        System.out.println(JSON.writeValueAsString(line));
    }
}
