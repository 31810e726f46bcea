import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ChannelOptions, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ServerGrpc } from '@nestjs/microservices';
import type { GrpcOptions } from '@nestjs/microservices';
import { RpcHandlers } from '../rpc/rpc-handlers';
import { StartupError } from '../startup/startup-error';

/** grpc-js's server, telling `handlers` of every service added to it. */
class RecordingServer extends Server {
  constructor(
    options: ChannelOptions,
    private readonly recorded: RpcHandlers,
  ) {
    super(options);
  }

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.recorded.record(service, implementation);
    super.addService(service, implementation);
  }
}

/**
 * Nest's gRPC transport with two changes: the handlers it registers are also kept in `handlers`
 * (gRPC-web and Connect call them in process), and the separate port is optional: with port 0
 * nothing is bound, and gRPC is served on the HTTP port only (through a connection injector).
 * A port that cannot be bound stops the start naming GRPC_PORT.
 */
export class GrpcServer extends ServerGrpc {
  readonly handlers = new RpcHandlers();

  constructor(
    private readonly grpcOptions: GrpcOptions['options'],
    private readonly host: string,
    private readonly port: number,
  ) {
    super({ ...grpcOptions, url: `${host}:${port}` });
  }

  override async createClient(): Promise<Server> {
    const server = new RecordingServer(this.grpcOptions.channelOptions ?? {}, this.handlers);
    if (this.port === 0) return server;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`${this.host}:${this.port}`, ServerCredentials.createInsecure(), (error) =>
        error ? reject(this.bindError(error)) : resolve(),
      ),
    );
    return server;
  }

  private bindError(error: Error): StartupError {
    const reason = /EADDRINUSE|EACCES|EADDRNOTAVAIL/.exec(error.message)?.[0] ?? error.message;
    return new StartupError(
      `GRPC_PORT ${this.port} on ${this.host} cannot be opened (${reason}); set another port, or 0 for none (gRPC stays on PORT)`,
      { setting: 'GRPC_PORT', reason, host: this.host, port: this.port },
    );
  }
}
