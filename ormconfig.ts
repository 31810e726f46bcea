import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { validateEnvironment } from './src/app.config';
import { dataSourceOptions } from './src/database/data-source-options';

/** The DataSource of the TypeORM CLI (`npm run migration:generate`, `migration:run`); the app builds the same options. */
export default new DataSource(dataSourceOptions(validateEnvironment(process.env).database));
