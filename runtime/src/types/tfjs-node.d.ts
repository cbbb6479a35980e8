// The optional native backends are not installed on build machines that cannot run
// their install script; these declarations cover the part of their API we use.
declare module '@tensorflow/tfjs-node' {
  import type { DataType, NamedTensorMap, Tensor } from '@tensorflow/tfjs';
  export interface SavedModelTensorInfo {
    readonly name: string;
    readonly dtype: DataType | string;
    readonly shape: number[];
    readonly tfname: string;
  }
  export interface SignatureDefEntry {
    readonly inputs: Record<string, SavedModelTensorInfo>;
    readonly outputs: Record<string, SavedModelTensorInfo>;
  }
  export interface MetaGraph {
    readonly tags: string[];
    readonly signatureDefs: Record<string, SignatureDefEntry>;
  }
  export interface TFSavedModel {
    predict(inputs: Tensor | Tensor[] | NamedTensorMap): Tensor | Tensor[] | NamedTensorMap;
    dispose(): void;
  }
  export const node: {
    getMetaGraphsFromSavedModel(path: string): Promise<MetaGraph[]>;
    loadSavedModel(path: string, tags?: string[], signature?: string): Promise<TFSavedModel>;
  };
}
// Its own copy, not `export * from '@tensorflow/tfjs-node'`: once tfjs-node is installed
// (its real types then win), that re-export would name a module tfjs-node-gpu is not.
declare module '@tensorflow/tfjs-node-gpu' {
  import type { DataType, NamedTensorMap, Tensor } from '@tensorflow/tfjs';
  export interface SavedModelTensorInfo {
    readonly name: string;
    readonly dtype: DataType | string;
    readonly shape: number[];
    readonly tfname: string;
  }
  export interface SignatureDefEntry {
    readonly inputs: Record<string, SavedModelTensorInfo>;
    readonly outputs: Record<string, SavedModelTensorInfo>;
  }
  export interface MetaGraph {
    readonly tags: string[];
    readonly signatureDefs: Record<string, SignatureDefEntry>;
  }
  export interface TFSavedModel {
    predict(inputs: Tensor | Tensor[] | NamedTensorMap): Tensor | Tensor[] | NamedTensorMap;
    dispose(): void;
  }
  export const node: {
    getMetaGraphsFromSavedModel(path: string): Promise<MetaGraph[]>;
    loadSavedModel(path: string, tags?: string[], signature?: string): Promise<TFSavedModel>;
  };
}
