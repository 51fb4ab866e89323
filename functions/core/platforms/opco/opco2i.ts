import { defineOpco } from './common.ts';

// Procedure not published in source doc 000: the generic renewal text applies.
export default defineOpco({ id: 'opco2i', name: 'OPCO 2i' });
