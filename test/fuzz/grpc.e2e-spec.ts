import { grpcAddress } from '../support/transports';
import { describeGrpcFuzz } from './support/grpc-fuzz';

/** Hostile native gRPC calls on the gRPC port (GRPC_PORT), made by hand over HTTP/2. */
describeGrpcFuzz('gRPC', { address: grpcAddress, runs: 1200 });
