// A Neo4j 5 Community database serving Bolt on loopback only, with authentication on.
// Run by kgtwin's supervisor as: java -cp <classpath> KgtwinNeo4j.java HOME PORT
// The password arrives in the environment (KGTWIN_NEO4J_PASSWORD), never on the command line.

import java.nio.file.Path;
import java.util.Map;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

public class KgtwinNeo4j {
  public static void main(String[] args) {
    try {
      serve(args);
    } catch (Throwable failure) {
      // The database's own threads would keep the JVM alive without a usable server.
      failure.printStackTrace();
      System.exit(1);
    }
  }

  private static void serve(String[] args) throws Exception {
    Path home = Path.of(args[0]);
    int port = Integer.parseInt(args[1]);
    String password = System.getenv("KGTWIN_NEO4J_PASSWORD");
    long pageCacheMiB = Long.parseLong(System.getenv().getOrDefault("KGTWIN_NEO4J_PAGECACHE_MIB", "512"));

    DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
        .setConfig(BoltConnector.enabled, true)
        .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
        .setConfig(HttpConnector.enabled, false)
        .setConfig(GraphDatabaseSettings.auth_enabled, true)
        .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMiB))
        .build();
    Runtime.getRuntime().addShutdownHook(new Thread(service::shutdown));

    // The embedded API talks to the system database directly, so it can set the password
    // that Bolt clients must then present.
    try {
      service.database("system").executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
    } catch (RuntimeException unchanged) {
      // A restart finds the password already set; Neo4j refuses to "change" it to itself.
      if (!String.valueOf(unchanged.getMessage()).contains("cannot be the same")) {
        throw unchanged;
      }
    }

    System.out.println("kgtwin-neo4j ready on 127.0.0.1:" + port);
    System.out.flush();
    Thread.currentThread().join();
  }
}
