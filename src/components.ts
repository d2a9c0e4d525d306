// Every component type this build of Sieve knows, by kind.
import type { Factory } from './component/component.js';

export const factories: Factory[] = [
  // receivers
  // processors
  // exporters
  // connectors
  // extensions
];

export function findFactory(kind: Factory['kind'], type: string): Factory | undefined {
  return factories.find((f) => f.kind === kind && f.type === type);
}
