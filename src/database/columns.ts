import { Column, ColumnOptions, ValueTransformer } from 'typeorm';

/**
 * Times are stored as epoch milliseconds in a BIGINT on both databases, so one entity and one
 * migration serve SQLite and PostgreSQL alike (pg returns BIGINT as a string, SQLite as a number).
 */
const epochMillis: ValueTransformer = {
  to: (value: Date | null | undefined) => (value instanceof Date ? value.getTime() : value),
  from: (value: string | number | null) => (value === null || value === undefined ? value : new Date(Number(value))),
};

export function TimeColumn(name: string, options: Pick<ColumnOptions, 'nullable'> = {}): PropertyDecorator {
  return Column({ name, type: 'bigint', transformer: epochMillis, ...options });
}

/** 64-bit decimal IDs are kept as strings: JavaScript numbers cannot hold them. */
export function IdColumn(name: string, options: Pick<ColumnOptions, 'nullable'> = {}): PropertyDecorator {
  return Column({ name, type: 'varchar', length: 200, ...options });
}
