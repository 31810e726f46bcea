import { Injectable, RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

/** Where createApp serves Swagger UI and the OpenAPI document (routes of Express, not of a controller). */
export const DOCS_PATH = 'docs';
export const OPENAPI_PATH = 'openapi.json';

interface Route {
  /** lower-cased; a `:name` segment matches any one segment */
  segments: string[];
  methods: Set<string>;
}

const segmentsOf = (path: string) =>
  path
    .toLowerCase()
    .split('/')
    .filter((segment) => segment !== '');

const asList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : [String(value ?? '')]);

/**
 * The REST paths the app serves and the methods of each, read from the controllers' metadata, so
 * that a path of ours called with another method is told 405 and its Allow list rather than 404.
 * Paths match as Express matches them here: case-insensitive, a trailing slash ignored.
 */
@Injectable()
export class RouteMethods {
  private routes?: Route[];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  /** The methods served at `path` (HEAD with GET), in a stable order; empty for a path that is not ours. */
  allowedAt(path: string): string[] {
    const wanted = segmentsOf(path);
    const allowed = new Set<string>();
    for (const route of (this.routes ??= this.collect())) {
      if (
        route.segments.length === wanted.length &&
        route.segments.every((segment, i) => segment.startsWith(':') || segment === wanted[i])
      )
        for (const method of route.methods) allowed.add(method);
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    return [...allowed].sort();
  }

  private collect(): Route[] {
    const byPath = new Map<string, Set<string>>();
    const add = (path: string, method: string) => {
      const key = segmentsOf(path).join('/');
      byPath.set(key, (byPath.get(key) ?? new Set()).add(method));
    };
    const scanner = new MetadataScanner();
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as Type | undefined;
      if (!type?.prototype) continue;
      const prefixes = asList(this.reflector.get<unknown>(PATH_METADATA, type));
      for (const name of scanner.getAllMethodNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name] as () => unknown;
        const method = this.reflector.get<RequestMethod | undefined>(METHOD_METADATA, handler);
        // gRPC handlers carry no HTTP method
        if (method === undefined) continue;
        for (const prefix of prefixes)
          for (const path of asList(this.reflector.get<unknown>(PATH_METADATA, handler)))
            add(`${prefix}/${path}`, RequestMethod[method]);
      }
    }
    add(DOCS_PATH, 'GET');
    add(OPENAPI_PATH, 'GET');
    return [...byPath].map(([path, methods]) => ({ segments: path.split('/').filter(Boolean), methods }));
  }
}
