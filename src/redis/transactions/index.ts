/** MULTI/EXEC/DISCARD/WATCH/UNWATCH on a dedicated connection to the transaction's shard. */
export { Transactions, Transaction, EXECABORT } from './transaction.js';
